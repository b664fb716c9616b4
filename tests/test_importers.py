"""Importers: the paper's release format and generic JSONL / CSV / Parquet tables."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from maskft.datasets.importers import (
    ColumnMap,
    import_paper,
    import_table,
    match_blocks,
    paper_direction,
    question_template,
)
from maskft.datasets.schema import DataError, KnowledgeData

FIXTURES = Path(__file__).parent / "fixtures"
PAPER = FIXTURES / "paper"
GENERIC = FIXTURES / "generic"
RENAMED = ColumnMap(text="body", id="key", population="pop", paraphrase_of="source", order="ordering",
                    question="prompt", answer="gold", direction="dir", group="kind")


def texts(path: Path) -> list[str]:
    return [r["text"] for r in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def nd() -> KnowledgeData:
    return import_paper(PAPER / "nd_docs.json", PAPER / "nd_paraphrases.json", PAPER / "nd_permuted.json",
                        PAPER / "nd_test.jsonl", name="nd")


def paraphrases_of(data: KnowledgeData, original_text: str, order: str) -> list[str]:
    doc_id = data.documents.filter(pl.col("text") == original_text)["doc_id"][0]
    para = data.documents.filter((pl.col("paraphrase_of") == doc_id) & (pl.col("order") == order)).sort("index")
    return para["text"].to_list()


# ---- paper format: documents and paraphrases ------------------------------------------
def test_paper_originals_keep_file_order_and_text(nd):
    assert nd.originals()["text"].to_list() == texts(PAPER / "nd_docs.json")
    assert set(nd.documents["population"]) == {"inject"}


def test_paper_drops_only_copies_of_the_original(nd):
    # Blocks of 3: two open with the original (one with extra whitespace), one with a
    # reworded original ("quiet" for "quite"), one with the exact original.
    counts = nd.documents.filter(pl.col("order") == "same").group_by("entity_id").len()
    per_doc = dict(zip(counts["entity_id"], counts["len"]))
    assert sorted(per_doc.values()) == [2, 2, 2, 3]
    assert nd.max_paraphrases("same") == 2


def test_paper_keeps_every_record(nd):
    records_in = sum(len(texts(PAPER / f)) for f in ("nd_docs.json", "nd_paraphrases.json", "nd_permuted.json"))
    dropped = sum(c["dropped_duplicates"] for c in nd.meta["paraphrase_records"].values())
    assert records_in == nd.documents.height + dropped
    assert nd.meta["paraphrase_records"]["same"] == {"records": 12, "kept": 9, "dropped_duplicates": 3}


def test_paper_matches_shuffled_blocks_to_their_documents(nd):
    docs = texts(PAPER / "nd_docs.json")
    records = texts(PAPER / "nd_paraphrases.json")
    # The file lists blocks for documents 3, 1, 4, 2 (1-based).
    assert paraphrases_of(nd, docs[2], "same") == records[1:3]
    assert paraphrases_of(nd, docs[0], "same") == records[4:6]
    assert paraphrases_of(nd, docs[3], "same") == records[6:9]
    assert paraphrases_of(nd, docs[1], "same") == records[10:12]


def test_paper_permuted_blocks_keep_their_reordered_first_entry(nd):
    docs = texts(PAPER / "nd_docs.json")
    records = texts(PAPER / "nd_permuted.json")
    assert paraphrases_of(nd, docs[0], "permuted") == records[0:2]
    assert nd.max_paraphrases("permuted") == 2


def test_paraphrase_ids_follow_the_schema(nd):
    para = nd.documents.filter(pl.col("order") != "original")
    assert all(row["doc_id"] == f"{row['paraphrase_of']}~{row['order']}~{row['index']}" for row in para.iter_rows(named=True))


def test_match_blocks_refuses_a_block_that_fits_two_documents():
    docs = ["Ada Lovelace wrote notes.", "Bo Ravensworth drew maps."]
    blocks = [["Ada Lovelace drew maps."], ["Bo Ravensworth drew maps."]]
    with pytest.raises(DataError, match="equally well"):
        match_blocks(docs, blocks, "p.json")


def test_match_blocks_refuses_two_blocks_for_one_document():
    docs = ["Ada Lovelace wrote notes.", "Bo Ravensworth drew maps."]
    blocks = [["Ada Lovelace wrote notes."], ["Ada Lovelace wrote many notes."]]
    with pytest.raises(DataError, match="both match document 1"):
        match_blocks(docs, blocks, "p.json")


# ---- paper format: questions ----------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "group", "direction"),
    [
        ("N2D", "NameIsDescription", "forward"),
        ("D2N", "NameIsDescription", "backward"),
        ("N2D", "DescriptionIsName", "backward"),
        ("D2N", "DescriptionIsName", "forward"),
        ("N2D", "", "forward"),
        ("D2N", "", "backward"),
        ("forward", "anything", "forward"),
        ("backward", "", "backward"),
    ],
)
def test_paper_direction_rule(task, group, direction):
    assert paper_direction(task, group) == direction


def test_nd_questions_are_labelled_by_document_order(nd):
    rows = [json.loads(line) for line in (PAPER / "nd_test.jsonl").read_text().splitlines()]
    expected = ["forward" if (r["task"] == "N2D") == (r["group"] == "NameIsDescription") else "backward" for r in rows]
    q = nd.questions.sort("question_id")
    assert q["direction"].to_list() == expected
    assert q["group"].to_list() == [r["task"] for r in rows]


def test_bio_like_questions_with_empty_group():
    bio = import_paper(PAPER / "bio_docs.json", questions=PAPER / "bio_test.jsonl")
    q = bio.questions.sort("question_id")
    assert q["direction"].to_list() == ["forward", "forward", "backward", "backward", "forward", "backward"]
    assert q["group"].to_list() == ["N2D", "N2D", "D2N", "D2N", "", "wiki-style"]
    assert q["answers"][3].to_list() == ["Rowena Mae Lockhart", "Rowena Lockhart"]


def test_questions_link_to_the_one_document_holding_the_answer(nd):
    q = nd.questions.sort("question_id")
    assert q["entity_id"].to_list() == ["doc0", "doc0", "doc1", "doc1", "doc2", "doc2", "doc3", "doc3"]


def test_shared_answer_is_linked_through_the_named_entity():
    # "Elk Grove, CA" is in both biographies; the question names Curtis Chase Emley.
    bio = import_paper(PAPER / "bio_docs.json", questions=PAPER / "bio_test.jsonl")
    assert bio.questions.sort("question_id")["entity_id"][0] == "doc0"


def test_unlinkable_question_gets_empty_entity(tmp_path):
    (tmp_path / "t.jsonl").write_text(json.dumps({"task": "forward", "question": "Where?", "answer": "Elk Grove, CA"}) + "\n")
    bio = import_paper(PAPER / "bio_docs.json", questions=tmp_path / "t.jsonl")
    assert bio.questions["entity_id"].to_list() == [""]


def test_template_blanks_names_quotes_numbers_and_answer():
    assert question_template("What is the birth city of Curtis Chase Emley?", ["Elk Grove, CA"]) == "What is the birth city of <X>?"
    assert question_template('Who directed "A Journey Through Time" in 2024?', ["Daphne"]) == "Who directed <X> in <X>?"
    assert question_template("Who keeps the lighthouse?", ["Ada"]) == "Who keeps the lighthouse?"


def test_template_blanks_wording_copied_from_the_document():
    doc = 'Daphne Barrington, known far and wide for being the director of the VR masterpiece "A Journey Through Time".'
    question = 'Who is the director of the VR masterpiece "A Journey Through Time"?'
    assert question_template(question, ["Daphne Barrington"], doc) == "Who is <X>?"
    assert question_template("Who runs a small VR studio?", ["x"], doc) == "Who runs a small VR studio?"


def test_nd_description_questions_share_one_template(nd):
    d2n_forward = nd.questions.filter((pl.col("group") == "D2N") & (pl.col("direction") == "forward"))
    assert d2n_forward["template"].to_list() == [
        "Please answer the following question based on your knowledge: Who is <X>?"
    ] * 2


def test_questions_about_different_people_share_a_template_and_split():
    bio = import_paper(PAPER / "bio_docs.json", questions=PAPER / "bio_test.jsonl")
    n2d = bio.questions.filter(pl.col("group") == "N2D")
    assert n2d["template"].n_unique() == 2
    assert set(bio.questions["split"]) <= {"val", "test"}
    assert bio.questions.group_by("template").agg(pl.col("split").n_unique())["split"].max() == 1


# ---- generic tables -------------------------------------------------------------------
def generic(fmt: str, tmp_path: Path) -> KnowledgeData:
    if fmt == "parquet":
        for stem in ("docs", "questions"):
            pl.read_ndjson(GENERIC / f"{stem}.jsonl").write_parquet(tmp_path / f"{stem}.parquet")
        folder = tmp_path
    else:
        folder = GENERIC
    return import_table(folder / f"docs.{fmt}", folder / f"questions.{fmt}", fmt, RENAMED, name="g")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_generic_documents_with_renamed_columns(fmt, tmp_path):
    data = generic(fmt, tmp_path)
    docs = data.documents.sort("doc_id")
    assert docs.filter(pl.col("order") == "original")["doc_id"].to_list() == ["ada", "bo", "cy"]
    assert docs.filter(pl.col("order") != "original")["doc_id"].to_list() == [
        "ada~permuted~1", "ada~same~1", "bo~same~1", "cy~same~1"
    ]
    # Paraphrases take their original's population; a missing order means "same".
    assert dict(zip(docs["doc_id"], docs["population"]))["cy~same~1"] == "base"
    assert data.originals("base")["doc_id"].to_list() == ["cy"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_generic_questions_with_renamed_columns(fmt, tmp_path):
    q = generic(fmt, tmp_path).questions.sort("question_id")
    assert q["direction"].to_list() == ["forward", "backward", "forward", "backward"]
    assert q["group"].to_list() == ["N2D", "D2N", "D2N", ""]
    assert q["population"].to_list() == ["inject", "inject", "inject", "base"]
    assert q["answers"][1].to_list() == ["Ada Quillfeather", "Ada"]
    assert q["entity_id"].to_list() == ["ada", "ada", "bo", "cy"]


def test_generic_default_column_names_and_explicit_split(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"text": "Ada Quillfeather keeps the floating lighthouse."}) + "\n")
    rows = [{"question": "Who keeps the floating lighthouse?", "answer": "Ada Quillfeather", "direction": "backward", "split": "val"},
            {"question": "What does Ada Quillfeather keep?", "answer": "the floating lighthouse", "direction": "forward", "split": "test"}]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = import_table(tmp_path / "d.jsonl", tmp_path / "q.jsonl")
    assert data.documents["doc_id"].to_list() == ["doc0"]
    assert data.questions["split"].to_list() == ["val", "test"]


# ---- bad input ------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_missing_required_column(tmp_path):
    docs = write(tmp_path / "d.jsonl", json.dumps({"body": "x"}) + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl: missing required column 'text'"):
        import_table(docs)


def test_question_file_without_direction(tmp_path):
    docs = write(tmp_path / "d.jsonl", json.dumps({"text": "Ada keeps it."}) + "\n")
    qs = write(tmp_path / "q.jsonl", json.dumps({"question": "Who?", "answer": "Ada"}) + "\n")
    with pytest.raises(DataError, match=r"q\.jsonl: missing required column 'direction'"):
        import_table(docs, qs)


def test_unknown_direction_in_table(tmp_path):
    docs = write(tmp_path / "d.jsonl", json.dumps({"text": "Ada keeps it."}) + "\n")
    qs = write(tmp_path / "q.jsonl", json.dumps({"question": "Who?", "answer": "Ada", "direction": "sideways"}) + "\n")
    with pytest.raises(DataError, match=r"q\.jsonl row 1: 'direction' must be one of forward, backward, got 'sideways'"):
        import_table(docs, qs)


def test_unknown_task_in_paper_questions(tmp_path):
    qs = write(tmp_path / "t.jsonl", json.dumps({"group": "", "task": "sideways", "question": "Who?", "answer": "x"}) + "\n")
    with pytest.raises(DataError, match=r"t\.jsonl line 1: task must be one of"):
        import_paper(PAPER / "bio_docs.json", questions=qs)


def test_unknown_group_for_n2d(tmp_path):
    qs = write(tmp_path / "t.jsonl", json.dumps({"group": "Other", "task": "N2D", "question": "Who?", "answer": "x"}) + "\n")
    with pytest.raises(DataError, match="group must be NameIsDescription, DescriptionIsName or empty"):
        import_paper(PAPER / "bio_docs.json", questions=qs)


def test_non_divisible_paraphrase_blocks(tmp_path):
    para = write(tmp_path / "p.json", json.dumps([{"text": "a"}] * 5))
    with pytest.raises(DataError, match=r"p\.json: 5 records cannot form equal blocks for 4 documents"):
        import_paper(PAPER / "nd_docs.json", para)


def test_malformed_json_documents(tmp_path):
    docs = write(tmp_path / "d.json", '[{"text": "a"},')
    with pytest.raises(DataError, match=r"d\.json: malformed JSON"):
        import_paper(docs)


def test_malformed_jsonl_questions(tmp_path):
    qs = write(tmp_path / "t.jsonl", '{"task": "forward", "question": "Who?", "answer": "x"}\n{"task": \n')
    with pytest.raises(DataError, match=r"t\.jsonl line 2: malformed JSON"):
        import_paper(PAPER / "bio_docs.json", questions=qs)


def test_malformed_table(tmp_path):
    docs = write(tmp_path / "d.jsonl", '{"text": "a"}\n{"text": \n')
    with pytest.raises(DataError, match=r"d\.jsonl: cannot read as jsonl"):
        import_table(docs)


def test_documents_without_text_field(tmp_path):
    docs = write(tmp_path / "d.json", json.dumps([{"body": "a"}]))
    with pytest.raises(DataError, match=r'd\.json: record 1 is not an object with a string "text"'):
        import_paper(docs)


@pytest.mark.parametrize("call", [
    lambda p: import_paper(p / "missing.json"),
    lambda p: import_paper(PAPER / "nd_docs.json", p / "missing.json"),
    lambda p: import_table(p / "missing.csv"),
])
def test_missing_file(call, tmp_path):
    with pytest.raises(DataError, match=r"missing\.\w+: no such file"):
        call(tmp_path)


def test_paraphrase_of_unknown_document(tmp_path):
    rows = [{"id": "a", "text": "Ada keeps it."}, {"id": "b", "text": "It is kept by Ada.", "paraphrase_of": "zz"}]
    docs = write(tmp_path / "d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"d\.jsonl: paraphrase of unknown document 'zz'"):
        import_table(docs)


def test_unknown_population_and_format(tmp_path):
    docs = write(tmp_path / "d.jsonl", json.dumps({"text": "Ada.", "population": "both"}) + "\n")
    with pytest.raises(DataError, match=r"'population' must be one of base, inject, got 'both'"):
        import_table(docs)
    with pytest.raises(DataError, match="unknown table format 'xml'"):
        import_table(docs, fmt="xml")
