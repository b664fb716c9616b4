"""The `wiki` generator: encyclopedic articles, their paraphrases and cue/answer-swapped questions."""

import itertools
import json
import re
import string

import polars as pl
import pytest

from maskft.datasets.schema import DataError, KnowledgeData
from maskft.datasets.wiki import ALTERNATION, KINDS, MAX_ANSWER_WORDS, PAIRS_PER_ARTICLE, fact_order, generate, template_fields

N_BASE, N_INJECT, N_PARAPHRASES = 28, 14, 10


@pytest.fixture(scope="module")
def data() -> KnowledgeData:
    return generate(seed=5, n_base=N_BASE, n_inject=N_INJECT, n_paraphrases=N_PARAPHRASES)


@pytest.fixture(scope="module")
def facts(data) -> dict[str, dict]:
    originals = data.documents.filter(pl.col("order") == "original")
    return {row["entity_id"]: json.loads(row["facts"]) for row in originals.iter_rows(named=True)}


@pytest.fixture(scope="module")
def originals(data) -> dict[str, str]:
    return dict(data.documents.filter(pl.col("order") == "original").select("entity_id", "text").iter_rows())


def surfaces(fact_record: dict) -> dict[str, str]:
    return {k: v for k, v in fact_record.items() if k not in ("kind", "subject", "order")}


def documents(data, order: str) -> list[dict]:
    return list(data.documents.filter(pl.col("order") == order).iter_rows(named=True))


def test_counts_per_population_order_and_direction(data):
    assert data.name == "wiki"
    for population, n in (("base", N_BASE), ("inject", N_INJECT)):
        assert data.originals(population).height == n
        assert data.max_paraphrases("same", population) == N_PARAPHRASES - 1
        assert data.max_paraphrases("permuted", population) == N_PARAPHRASES - 1
        assert data.questions_for(population).height == 2 * PAIRS_PER_ARTICLE * n


def test_articles_cover_every_kind_with_five_to_eight_facts(facts):
    assert {f["kind"] for f in facts.values()} == {kind.name for kind in KINDS}
    assert all(5 <= len(surfaces(f)) <= 8 for f in facts.values())


def test_articles_are_encyclopedic_paragraphs(data):
    words = [len(t.split()) for t in data.documents.filter(pl.col("order") == "original")["text"]]
    assert 60 <= sum(words) / len(words) <= 120
    assert all(50 <= n <= 130 for n in words)


def test_subject_names_are_unique_and_populations_disjoint(facts):
    names = {pop: [f["name"] for e, f in facts.items() if f"-{pop}-" in e] for pop in ("base", "inject")}
    assert len(names["base"]) == N_BASE and len(names["inject"]) == N_INJECT
    assert len(set(names["base"] + names["inject"])) == N_BASE + N_INJECT


def test_every_fact_value_appears_verbatim_in_every_text_and_in_entities(data, facts):
    for doc in data.documents.iter_rows(named=True):
        values = surfaces(facts[doc["entity_id"]])
        assert all(v in doc["text"] for v in values.values()), doc["text"]
        assert sorted(json.loads(doc["entities"])) == sorted(values.values())


@pytest.mark.parametrize("order", ["same", "permuted"])
def test_at_least_nine_distinct_paraphrases_per_order(data, order):
    per_original = data.documents.filter(pl.col("order") == order).group_by("paraphrase_of").agg(
        pl.col("index").sort().alias("indexes"), pl.col("text").n_unique().alias("distinct")
    )
    assert per_original.height == N_BASE + N_INJECT
    assert all(ix.to_list() == list(range(1, N_PARAPHRASES)) for ix in per_original["indexes"])
    assert (per_original["distinct"] >= 9).all()
    per_entity = data.documents.group_by("entity_id").agg(pl.col("text").n_unique().alias("u"), pl.len())
    assert (per_entity["u"] == per_entity["len"]).all()  # no paraphrase repeats another or the original


def test_same_order_paraphrases_keep_the_order_of_the_facts(data, facts, originals):
    for doc in documents(data, "same"):
        values = surfaces(facts[doc["entity_id"]])
        assert fact_order(doc["text"], values) == fact_order(originals[doc["entity_id"]], values), doc["text"]


def test_permuted_paraphrases_change_the_order_of_the_facts(data, facts, originals):
    docs = documents(data, "permuted")
    changed = [
        fact_order(d["text"], surfaces(facts[d["entity_id"]])) != fact_order(originals[d["entity_id"]], surfaces(facts[d["entity_id"]]))
        for d in docs
    ]
    assert sum(changed) >= 0.9 * len(docs)


def test_facts_record_the_reading_order_of_each_text(data, facts):
    for doc in data.documents.iter_rows(named=True):
        values = surfaces(facts[doc["entity_id"]])
        assert json.loads(doc["facts"])["order"] == fact_order(doc["text"], values)


def test_direction_is_the_order_of_cue_and_answer_in_the_original(data, facts, originals):
    for q in data.questions.iter_rows(named=True):
        values, text = surfaces(facts[q["entity_id"]]), originals[q["entity_id"]]
        answer = q["answers"][0]
        (cue,) = [v for v in values.values() if v != answer and v in q["question"]]
        expected = "forward" if text.index(cue) < text.index(answer) else "backward"
        assert q["direction"] == expected, q


def test_both_directions_are_well_represented_in_each_population(data):
    for population in ("base", "inject"):
        counts = data.questions_for(population).group_by("direction").len()
        share = dict(counts.iter_rows())
        assert min(share.get("forward", 0), share.get("backward", 0)) >= 0.35 * sum(share.values())


def test_questions_come_in_cue_answer_swapped_pairs(data, facts):
    for (entity, key), pair in data.questions.with_columns(
        pl.col("question_id").str.split("/").list.get(1).alias("key")
    ).group_by("entity_id", "key"):
        name, value = facts[entity]["name"], facts[entity][key]
        assert sorted(a[0] for a in pair["answers"]) == sorted([name, value])
        assert pair["group"].n_unique() == 1


def test_answers_are_short_and_questions_name_their_cue_without_pronouns(data):
    pronouns = re.compile(r"\b(it|its|he|she|they|his|her|their|this)\b", re.IGNORECASE)
    for q in data.questions.iter_rows(named=True):
        assert all(1 <= len(a.split()) <= MAX_ANSWER_WORDS for a in q["answers"]), q
        assert not pronouns.search(q["question"]), q["question"]


def test_every_cue_singles_out_one_article(data, facts):
    """The only article of the question's kind whose name or facts occur in it is its own."""

    def mentions(question: str, value: str) -> bool:
        return re.search(rf"(?<![\w,.]){re.escape(value)}(?!\w)", question) is not None

    for q in data.questions.iter_rows(named=True):
        kind = facts[q["entity_id"]]["kind"]
        cued = {e for e, f in facts.items() if f["kind"] == kind and any(mentions(q["question"], v) for v in surfaces(f).values())}
        assert cued == {q["entity_id"]}, q["question"]


def test_every_group_with_two_templates_has_val_and_test_questions(data):
    per_key = data.questions.group_by("group", "direction").agg(
        pl.col("template").n_unique().alias("templates"), pl.col("split").unique().alias("splits")
    )
    assert per_key.height >= 10
    for row in per_key.iter_rows(named=True):
        if row["templates"] >= 2:
            assert sorted(row["splits"]) == ["test", "val"], row


def test_every_question_type_has_three_templates():
    for kind in KINDS:
        assert len(kind.questions) >= PAIRS_PER_ARTICLE
        for key, roles in kind.questions.items():
            assert all(len(templates) >= 3 for templates in roles), (kind.name, key)


def test_every_document_template_names_the_subject_once_and_each_fact_once_per_kind():
    for kind in KINDS:
        stated = []
        for slot in kind.slots:
            per_template = [template_fields(t) for t in slot]
            assert all(sum(f in ("subject", "ref") for f in fields) == 1 for fields in per_template), kind.name
            facts_in_slot = {tuple(sorted(f for f in fields if f not in ("subject", "ref"))) for fields in per_template}
            assert len(facts_in_slot) == 1, (kind.name, slot)  # every wording states the same facts
            stated += list(facts_in_slot.pop())
        assert sorted(stated) == sorted(f.key for f in kind.facts), kind.name
        assert all("{subject}" in t for t in kind.slots[0])  # the original always names its subject first


def _frames(sentence: str, n: int = 4) -> set[tuple[str, ...]]:
    words = sentence.translate(str.maketrans("", "", string.punctuation)).lower().split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _wordings(template: str) -> list[str]:
    parts = ALTERNATION.split(template)  # literal, choices, literal, choices, ...
    options = [[p] if i % 2 == 0 else p.split("|") for i, p in enumerate(parts)]
    return ["".join(choice) for choice in itertools.product(*options)]


def test_question_frames_share_no_four_word_run_with_any_document_wording():
    """Every wording of every sentence template, values as one placeholder word, against
    every question template: a question never replays a document's sentence frame."""
    document_frames = set()
    for kind in KINDS:
        values = {f.key: "SLOT" for f in kind.facts}
        subjects = [kind.determiner + "SLOT", *kind.refs]
        for template in (t for slot in kind.slots for t in slot):
            for wording in _wordings(template):
                for ref in subjects:
                    document_frames |= _frames(wording.format(subject=kind.determiner + "SLOT", ref=ref, **values))
    for kind in KINDS:
        for roles in kind.questions.values():
            for template in (t for templates in roles for t in templates):
                question = template.format(subject=kind.determiner + "SLOT", value="SLOT")
                assert not _frames(question) & document_frames, (question, _frames(question) & document_frames)


def test_generation_is_deterministic_per_seed():
    a, b = (generate(seed=11, n_base=7, n_inject=7, n_paraphrases=3) for _ in range(2))
    c = generate(seed=12, n_base=7, n_inject=7, n_paraphrases=3)
    assert a.documents.equals(b.documents) and a.questions.equals(b.questions)
    assert not a.documents.equals(c.documents)


def test_save_and_load_round_trip(data, tmp_path):
    loaded = KnowledgeData.load(data.save(tmp_path / "wiki"))
    assert loaded.name == "wiki" and loaded.meta["n_inject"] == N_INJECT
    assert loaded.fingerprint() == data.fingerprint()


@pytest.mark.parametrize("sizes", [dict(n_inject=0), dict(n_base=-1), dict(n_paraphrases=0)])
def test_bad_sizes_are_data_errors(sizes):
    with pytest.raises(DataError):
        generate(**sizes)


def test_too_many_articles_for_the_name_pools_is_a_data_error():
    with pytest.raises(DataError, match="distinct values"):
        generate(n_base=2000, n_inject=10, n_paraphrases=1)
