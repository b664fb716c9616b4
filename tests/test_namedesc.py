"""The namedesc generator: populations, paraphrase orders, question labels, determinism."""

import json
import string

import polars as pl
import pytest

from maskft.datasets import namedesc
from maskft.datasets.schema import DataError, KnowledgeData


@pytest.fixture(scope="module")
def small() -> KnowledgeData:
    return namedesc.generate(seed=7, n_base=8, n_inject=4)


@pytest.fixture(scope="module")
def full() -> KnowledgeData:
    return namedesc.generate(seed=0)


def _facts(row: dict) -> dict:
    return json.loads(row["facts"])


def _words(text: str) -> list[str]:
    return text.translate(str.maketrans("", "", string.punctuation)).lower().split()


def _frame_phrases(frame: str) -> list[str]:
    """Every word 3-gram of the frame's fixed text (a two-word piece counts whole)."""
    phrases = []
    for literal, _, _, _ in string.Formatter().parse(frame):
        words = _words(literal)
        if len(words) == 2:
            phrases.append(" ".join(words))
        phrases += [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    return phrases


def _reused_phrases(question_frames: list[str], texts: list[str]) -> list[tuple[str, str]]:
    padded = [f" {' '.join(_words(t))} " for t in texts]
    return [(f, p) for f in question_frames for p in _frame_phrases(f) if any(f" {p} " in t for t in padded)]


def test_each_population_is_half_n2d_half_d2n(small):
    for population, n in (("base", 8), ("inject", 4)):
        orders = [_facts(r)["doc_order"] for r in small.originals(population).iter_rows(named=True)]
        assert sorted(orders) == ["D2N"] * (n // 2) + ["N2D"] * (n // 2)


def test_original_texts_follow_the_paper_templates(small):
    for row in small.originals("inject").iter_rows(named=True):
        f = _facts(row)
        if f["doc_order"] == "N2D":
            assert row["text"] == f"{f['name']}, known far and wide for being {f['description']}."
        else:
            assert row["text"] == f"Known for being {f['description']}, {f['name']} now enjoys a quiet life."


def test_base_and_inject_share_no_name(small):
    names = {p: {_facts(r)["name"] for r in small.originals(p).iter_rows(named=True)} for p in ("base", "inject")}
    assert len(names["base"]) == 8 and len(names["inject"]) == 4
    assert not names["base"] & names["inject"]


def _inject_names(data: KnowledgeData) -> list[str]:
    return [_facts(r)["name"] for r in data.originals("inject").iter_rows(named=True)]


def _repeated_parts(names: list[str]) -> int:
    return sum(len(names) - len({name.split()[i] for name in names}) for i in (0, -1))


def test_distinct_names_give_every_injected_person_name_parts_of_their_own():
    default = namedesc.generate(seed=3, n_base=20, n_inject=40, n_paraphrases=2)
    distinct = namedesc.generate(seed=3, n_base=20, n_inject=40, n_paraphrases=2, distinct_names=True)
    assert _repeated_parts(_inject_names(default)) > 0  # ~100 first and last names for 40 people
    assert _repeated_parts(_inject_names(distinct)) == 0
    assert distinct.meta["distinct_names"] is True and default.meta["distinct_names"] is False


def test_distinct_names_keep_the_populations_apart():
    data = namedesc.generate(seed=4, n_base=60, n_inject=40, n_paraphrases=2, distinct_names=True)
    names = {p: {_facts(r)["name"] for r in data.originals(p).iter_rows(named=True)} for p in ("base", "inject")}
    assert len(names["base"]) == 60 and len(names["inject"]) == 40 and not names["base"] & names["inject"]


def test_more_distinct_names_than_the_pools_hold_is_a_data_error():
    with pytest.raises(DataError, match="namedesc distinct_names: at most 105 names share no part, asked for 106"):
        namedesc.generate(n_base=0, n_inject=106, n_paraphrases=1, distinct_names=True)


def test_every_original_has_29_paraphrases_in_each_order(small):
    for population in ("base", "inject"):
        for order in ("same", "permuted"):
            assert small.max_paraphrases(order, population) == 29
            indices = small.documents.filter((pl.col("population") == population) & (pl.col("order") == order))
            assert indices.group_by("paraphrase_of").agg(pl.col("index").max())["index"].to_list() == [29] * indices[
                "paraphrase_of"
            ].n_unique()


def test_same_order_keeps_name_description_order_and_permuted_swaps_it(small):
    for row in small.documents.filter(pl.col("order") != "original").iter_rows(named=True):
        f = _facts(row)
        name_first = row["text"].index(f["name"]) < row["text"].index(f["description"])
        original_name_first = f["doc_order"] == "N2D"
        assert name_first == (original_name_first if row["order"] == "same" else not original_name_first), row["text"]


def test_paraphrases_of_one_document_are_all_distinct(small):
    texts = small.documents.group_by("entity_id").agg(pl.col("text").n_unique().alias("unique"), pl.len().alias("n"))
    assert (texts["unique"] == texts["n"]).all()
    assert texts["n"].to_list() == [59] * 12


def test_entities_appear_verbatim_in_reading_order(small):
    for row in small.documents.iter_rows(named=True):
        name, description = _facts(row)["name"], _facts(row)["description"]
        entities = json.loads(row["entities"])
        assert sorted(entities) == sorted([name, description])
        assert [row["text"].count(e) for e in entities] == [1, 1]
        assert row["text"].index(entities[0]) < row["text"].index(entities[1])


def test_descriptions_are_distinct_and_none_is_a_prefix_of_another(full):
    descriptions = [_facts(r)["description"] for r in full.documents.filter(pl.col("order") == "original").iter_rows(named=True)]
    assert len(descriptions) == 300 == len(set(descriptions))
    ordered = sorted(descriptions)
    assert not any(b.startswith(a) for a, b in zip(ordered, ordered[1:]))  # a prefix sorts right before its extensions


def test_too_many_people_is_a_one_line_error():
    with pytest.raises(ValueError, match="dissimilar descriptions"):
        namedesc.generate(n_base=900, n_inject=100, n_paraphrases=1)


def test_too_many_paraphrases_is_a_one_line_error():
    with pytest.raises(ValueError, match="n_paraphrases"):
        namedesc.generate(n_base=2, n_inject=2, n_paraphrases=1000)


def test_question_direction_follows_the_document_order(small):
    orders = {r["entity_id"]: _facts(r)["doc_order"] for r in small.documents.filter(pl.col("order") == "original").iter_rows(named=True)}
    for q in small.questions.iter_rows(named=True):
        expected = "forward" if q["group"] == orders[q["entity_id"]] else "backward"
        assert q["direction"] == expected, q


def test_gold_answer_is_the_description_for_n2d_and_the_name_for_d2n(small):
    facts = {r["entity_id"]: _facts(r) for r in small.originals("inject").iter_rows(named=True)}
    for q in small.questions_for("inject").iter_rows(named=True):
        f = facts[q["entity_id"]]
        if q["group"] == "N2D":
            assert q["answers"][0] == f["description"] and f["name"] in q["question"]
        else:
            assert q["answers"] == [f["name"]] and f["description"] in q["question"]


def test_questions_cover_both_populations_with_six_templates_per_group(small):
    counts = small.questions.group_by("population", "group").agg(pl.col("template").n_unique(), pl.len())
    assert counts.sort("population", "group").rows() == [
        ("base", "D2N", 6, 48), ("base", "N2D", 6, 48), ("inject", "D2N", 6, 24), ("inject", "N2D", 6, 24)
    ]


def test_val_and_test_present_for_each_group_and_direction(small):
    splits = small.questions_for("inject").group_by("group", "direction").agg(pl.col("split").unique().sort())
    assert splits.height == 4
    assert all(s == ["test", "val"] for s in splits["split"].to_list())


ALL_QUESTION_FRAMES = [f for frames in namedesc.QUESTION_FRAMES.values() for f in frames]


def test_question_frames_share_no_wording_with_documents(full):
    assert _reused_phrases(ALL_QUESTION_FRAMES, full.documents["text"].to_list()) == []


def test_question_frames_share_no_wording_with_any_document_frame():
    document_frames = namedesc.NAME_FIRST_FRAMES + namedesc.DESCRIPTION_FIRST_FRAMES + list(namedesc.ORIGINAL_FRAMES.values())
    assert _reused_phrases(ALL_QUESTION_FRAMES, document_frames) == []


def test_the_papers_reused_question_frame_would_be_caught():
    assert _reused_phrases(["{name} is not your typical person, they are what?"], namedesc.NAME_FIRST_FRAMES)


def test_at_least_30_distinct_frames_per_order():
    for frames in (namedesc.NAME_FIRST_FRAMES, namedesc.DESCRIPTION_FIRST_FRAMES):
        assert len(set(frames)) == len(frames) >= 30
        assert not set(frames) & set(namedesc.ORIGINAL_FRAMES.values())


def test_same_seed_gives_identical_data(small):
    again = namedesc.generate(seed=7, n_base=8, n_inject=4)
    assert again.documents.equals(small.documents) and again.questions.equals(small.questions)


def test_different_seeds_give_different_data(small):
    other = namedesc.generate(seed=8, n_base=8, n_inject=4)
    assert other.documents["text"].to_list() != small.documents["text"].to_list()
    assert set(other.questions["question"]) != set(small.questions["question"])


def test_save_and_load_round_trip(small, tmp_path):
    loaded = KnowledgeData.load(small.save(tmp_path / "nd"))
    assert loaded.name == "namedesc" and loaded.meta == small.meta
    assert loaded.documents.equals(small.documents) and loaded.questions.equals(small.questions)


def test_no_two_descriptions_share_more_than_half_their_content_words(full):
    descriptions = [_facts(r)["description"] for r in full.documents.filter(pl.col("order") == "original").iter_rows(named=True)]
    content = [set(_words(d)) - namedesc.FUNCTION_WORDS for d in descriptions]
    for i, a in enumerate(content):
        for b in content[i + 1 :]:
            assert len(a & b) <= 0.5 * min(len(a), len(b)), (a, b)
