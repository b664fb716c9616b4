"""The `bio` generator: bioS-style biographies, their paraphrases and questions."""

import json
import re

import polars as pl
import pytest

from maskft.datasets import bio
from maskft.datasets.bio import ATTRIBUTE_LABELS, ATTRIBUTES, generate
from maskft.datasets.schema import DataError, KnowledgeData

N_BASE, N_INJECT, N_PARAPHRASES = 20, 10, 10  # n_paraphrases counts the original


@pytest.fixture(scope="module")
def data() -> KnowledgeData:
    return generate(seed=3, n_base=N_BASE, n_inject=N_INJECT, n_paraphrases=N_PARAPHRASES)


@pytest.fixture(scope="module")
def facts(data) -> dict[str, dict]:
    originals = data.documents.filter(pl.col("order") == "original")
    return {row["entity_id"]: json.loads(row["facts"]) for row in originals.iter_rows(named=True)}


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.) ", text)


def same_content(a: KnowledgeData, b: KnowledgeData) -> bool:
    return a.documents.equals(b.documents) and a.questions.equals(b.questions)


def documents(data, order: str) -> list[dict]:
    return list(data.documents.filter(pl.col("order") == order).iter_rows(named=True))


def test_counts_per_population_and_order(data):
    assert data.name == "bio"
    for population, n in (("base", N_BASE), ("inject", N_INJECT)):
        assert data.originals(population).height == n
        assert data.max_paraphrases("same", population) == N_PARAPHRASES - 1
        assert data.max_paraphrases("permuted", population) == N_PARAPHRASES - 1
        q = data.questions_for(population)
        assert q.filter(pl.col("direction") == "forward").height == 6 * n
        assert q.filter(pl.col("direction") == "backward").height == 3 * n


def test_every_document_has_six_sentences_and_all_paraphrases_differ(data):
    assert all(len(sentences(text)) == 6 for text in data.documents["text"])
    per_entity = data.documents.group_by("entity_id").agg(pl.col("text").n_unique().alias("u"), pl.len())
    assert (per_entity["u"] == per_entity["len"]).all()


def test_populations_share_no_name(facts):
    base = {f["name"] for e, f in facts.items() if "-base-" in e}
    inject = {f["name"] for e, f in facts.items() if "-inject-" in e}
    assert len(base) == N_BASE and len(inject) == N_INJECT and not base & inject
    assert all(len(name.split()) == 3 for name in base | inject)


def inject_names(data) -> list[str]:
    originals = data.documents.filter((pl.col("order") == "original") & (pl.col("population") == "inject"))
    return [json.loads(f)["name"] for f in originals["facts"]]


def repeated_parts(names: list[str]) -> int:
    return sum(len(names) - len({name.split()[i] for name in names}) for i in range(3))


def test_distinct_names_give_every_injected_person_name_parts_of_their_own():
    default = generate(seed=3, n_base=N_BASE, n_inject=40, n_paraphrases=2)
    distinct = generate(seed=3, n_base=N_BASE, n_inject=40, n_paraphrases=2, distinct_names=True)
    assert repeated_parts(inject_names(default)) > 0  # 18 middle names for 40 people
    assert repeated_parts(inject_names(distinct)) == 0
    assert distinct.meta["distinct_names"] is True and default.meta["distinct_names"] is False


def test_distinct_names_keep_the_populations_apart():
    data = generate(seed=4, n_base=60, n_inject=40, n_paraphrases=2, distinct_names=True)
    originals = data.documents.filter(pl.col("order") == "original")
    names = {row["population"]: set() for row in originals.iter_rows(named=True)}
    for row in originals.iter_rows(named=True):
        name = json.loads(row["facts"])["name"].split()
        names[row["population"]].add((name[0], name[-1]))
    assert len(names["base"]) == 60 and len(names["inject"]) == 40 and not names["base"] & names["inject"]


def test_more_distinct_names_than_the_pools_hold_is_a_data_error():
    with pytest.raises(DataError, match="distinct_names: at most 105 names share no part, asked for 106"):
        generate(n_base=0, n_inject=106, n_paraphrases=1, distinct_names=True)


@pytest.fixture(scope="module")
def name_last() -> KnowledgeData:
    return generate(seed=3, n_base=N_BASE, n_inject=N_INJECT, n_paraphrases=N_PARAPHRASES, permuted_name_last=True)


def test_permuted_name_last_states_every_attribute_before_the_name(name_last, facts):
    permuted = name_last.documents.filter(pl.col("order") == "permuted")
    assert permuted.height == (N_BASE + N_INJECT) * (N_PARAPHRASES - 1)
    for row in permuted.iter_rows(named=True):
        name = facts[row["entity_id"]]["name"]
        *attribute_sentences, closing = sentences(row["text"])
        assert len(attribute_sentences) == len(ATTRIBUTES) and name in closing
        assert not any(name in sentence for sentence in attribute_sentences)
    assert name_last.meta["permuted_name_last"] is True


def test_permuted_name_last_changes_nothing_but_the_permuted_texts(data, name_last):
    def without_permuted(d: KnowledgeData) -> pl.DataFrame:
        return d.documents.filter(pl.col("order") != "permuted")

    assert without_permuted(name_last).equals(without_permuted(data))
    assert name_last.questions.equals(data.questions)
    before, after = (d.documents.filter(pl.col("order") == "permuted") for d in (data, name_last))
    assert before.drop("text").equals(after.drop("text"))
    assert not set(before["text"]) & set(after["text"])


@pytest.mark.parametrize("order", ["original", "same", "permuted"])
def test_full_name_only_in_the_first_sentence(data, facts, order):
    for doc in documents(data, order):
        name = facts[doc["entity_id"]]["name"]
        first, *rest = sentences(doc["text"])
        assert name in first and not any(name in s for s in rest), doc["text"]


@pytest.mark.parametrize("order", ["original", "same"])
def test_same_order_texts_keep_the_attribute_order(data, facts, order):
    for doc in documents(data, order):
        person = facts[doc["entity_id"]]
        assert all(person[a] in s for a, s in zip(ATTRIBUTES, sentences(doc["text"]))), doc["text"]


def test_permuted_paraphrases_reorder_the_sentences(data, facts):
    docs = documents(data, "permuted")
    in_original_order = [
        all(facts[d["entity_id"]][a] in s for a, s in zip(ATTRIBUTES, sentences(d["text"]))) for d in docs
    ]
    assert sum(in_original_order) < 0.1 * len(docs)
    for d in docs:  # reordered, not dropped: every attribute is still stated
        assert all(facts[d["entity_id"]][a] in d["text"] for a in ATTRIBUTES)


def test_entities_appear_verbatim_in_every_document(data):
    for doc in data.documents.iter_rows(named=True):
        entities = json.loads(doc["entities"])
        assert len(entities) >= 6 and all(e in doc["text"] for e in entities)


def test_forward_questions_ask_each_attribute_given_the_name(data, facts):
    forward = data.questions.filter(pl.col("direction") == "forward")
    for q in forward.iter_rows(named=True):
        person = facts[q["entity_id"]]
        assert person["name"] in q["question"] and q["answers"] == [person[q["group"]]]
    assert set(forward["group"]) == set(ATTRIBUTES)
    assert forward.group_by("group").agg(pl.col("template").n_unique())["template"].min() >= 3


def shrink_pools(monkeypatch, n_values: int) -> None:
    """Tiny attribute pools, so that many people share values and triples collide."""
    for pool in ("CITIES", "UNIVERSITIES", "MAJORS", "COMPANIES"):
        monkeypatch.setattr(bio, pool, getattr(bio, pool)[:n_values])
    monkeypatch.setattr(bio, "BIRTH_YEARS", range(1970, 1971))


def test_backward_triples_identify_exactly_one_person(data):
    assert_backward_triples_unique(data)


def test_backward_triples_stay_unique_when_attribute_values_collide(monkeypatch):
    shrink_pools(monkeypatch, n_values=2)
    assert_backward_triples_unique(generate(seed=0, n_base=30, n_inject=10, n_paraphrases=1))


def test_pools_too_small_to_single_people_out_are_refused(monkeypatch):
    shrink_pools(monkeypatch, n_values=1)
    with pytest.raises(DataError, match="identifiable"):
        generate(seed=0, n_base=400, n_inject=10, n_paraphrases=1)


def assert_backward_triples_unique(data: KnowledgeData) -> None:
    originals = data.documents.filter(pl.col("order") == "original")
    facts = {row["entity_id"]: json.loads(row["facts"]) for row in originals.iter_rows(named=True)}
    backward = data.questions.filter(pl.col("direction") == "backward")
    assert set(backward["group"]) == {"name"} and backward["template"].n_unique() >= 3

    def stated(person: dict, question: str) -> list[str]:
        return [a for a in ATTRIBUTES if f"{ATTRIBUTE_LABELS[a]} {person[a]}" in question]

    for q in backward.iter_rows(named=True):
        person = facts[q["entity_id"]]
        triple = stated(person, q["question"])
        assert len(triple) == 3 and q["answers"] == [person["name"]]
        matching = [e for e, other in facts.items() if set(triple) <= set(stated(other, q["question"]))]
        assert matching == [q["entity_id"]], q["question"]
    per_person = backward.group_by("entity_id").agg(pl.col("question").n_unique())
    assert (per_person["question"] == 3).all()


def test_val_and_test_questions_in_every_group_and_direction(data):
    for population in ("base", "inject"):
        splits = data.questions_for(population).group_by("group", "direction").agg(pl.col("split").unique().sort())
        assert all(s.to_list() == ["test", "val"] for s in splits["split"])


def test_question_frames_share_no_wording_with_documents(data, facts):
    """No two-word question fragment, and no three words of a longer one, occur in a document."""

    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    doc_ngrams = set()
    for text in data.documents["text"]:
        w = words(text)
        doc_ngrams |= {tuple(w[i : i + n]) for n in (2, 3) for i in range(len(w) - n + 1)}
    for q in data.questions.iter_rows(named=True):
        person = facts[q["entity_id"]]
        frame = q["question"]
        for value in sorted([person["name"], *(person[a] for a in ATTRIBUTES)], key=len, reverse=True):
            frame = frame.replace(value, "\0")
        for fragment in map(words, frame.split("\0")):
            n = min(len(fragment), 3)
            copied = {tuple(fragment[i : i + n]) for i in range(len(fragment) - n + 1)} & doc_ngrams if n >= 2 else set()
            assert not copied, (q["question"], copied)


def test_same_seed_same_data_other_seed_other_data(data):
    again = generate(seed=3, n_base=N_BASE, n_inject=N_INJECT, n_paraphrases=N_PARAPHRASES)
    other = generate(seed=4, n_base=N_BASE, n_inject=N_INJECT, n_paraphrases=N_PARAPHRASES)
    assert same_content(again, data) and not same_content(other, data)


def test_save_load_round_trip(data, tmp_path):
    loaded = KnowledgeData.load(data.save(tmp_path / "bio"))
    assert loaded.name == "bio" and loaded.meta["seed"] == 3
    assert same_content(loaded, data)


@pytest.mark.parametrize("sizes", [{"n_inject": 0}, {"n_base": -1}, {"n_paraphrases": 0}, {"n_paraphrases": 10**7}])
def test_rejects_impossible_sizes(sizes):
    with pytest.raises(ValueError):
        generate(**sizes)
