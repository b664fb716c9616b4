"""The paper's metric, checked against hand-computed scores."""

import json

import polars as pl
import pytest

from maskft.trainers.metric import exact_match, rouge1_recall, score_file, score_rows, summarize_scores


# ---- ROUGE-1 recall ---------------------------------------------------------------------
def test_full_recall_when_every_gold_word_appears():
    assert rouge1_recall("He was born in Paris, France.", "Paris France") == 1.0


def test_recall_is_fraction_of_gold_words_found():
    # gold content words {Marie, Curie, Warsaw}; output has Marie and Warsaw
    assert rouge1_recall("Marie lived in Warsaw", "Marie Curie, Warsaw") == pytest.approx(2 / 3)


def test_punctuation_is_deleted_not_replaced_by_space():
    assert rouge1_recall("dont", "don't") == 1.0
    assert rouge1_recall("don t", "don't") == 0.0
    assert rouge1_recall("well-known", "wellknown") == 1.0


def test_words_compare_case_sensitively():
    assert rouge1_recall("paris", "Paris") == 0.0


def test_stopwords_are_dropped_case_insensitively():
    # gold "The Lord of the Rings" -> {Lord, Rings}: "The"/"the"/"of" never count
    assert rouge1_recall("Lord Rings", "The Lord of the Rings") == 1.0
    assert rouge1_recall("The OF the", "The Lord of the Rings") == 0.0
    # "New" is a stopword too, so "New York" has the single content word "York"
    assert rouge1_recall("York", "New York") == 1.0


def test_duplicate_gold_words_count_once():
    # unique gold words {Bora, Jakarta}: output covers one of two
    assert rouge1_recall("Bora", "Bora Bora Jakarta") == 0.5


def test_duplicate_output_words_do_not_inflate_recall():
    assert rouge1_recall("Bora Bora Bora", "Bora Jakarta") == 0.5


def test_best_gold_answer_is_taken():
    assert rouge1_recall("Ada Lovelace", ["Charles Babbage", "Ada Byron", "Ada Lovelace"]) == 1.0
    assert rouge1_recall("Ada", ["Charles Babbage", "Ada Byron"]) == 0.5


def test_empty_output_scores_zero():
    assert rouge1_recall("", "Paris") == 0.0
    assert rouge1_recall("   ...  ", "Paris") == 0.0


def test_gold_of_only_stopwords_or_punctuation_scores_zero():
    assert rouge1_recall("the of and", "The of and") == 0.0
    assert rouge1_recall("!!", "?!") == 0.0
    assert rouge1_recall("anything", []) == 0.0


# ---- exact match ------------------------------------------------------------------------
def test_exact_match_ignores_case_punctuation_and_spacing():
    assert exact_match("It is  New\tYork, city.", "new york!") == 1.0


def test_exact_match_deletes_punctuation_like_rouge():
    assert exact_match("It is NEW-york city.", "new york") == 0.0  # "new-york" -> "newyork"
    assert exact_match("It is NEW-york city.", "New-York") == 1.0


def test_exact_match_needs_the_whole_answer_in_order():
    assert exact_match("Marie lived in Warsaw", "Marie Curie Warsaw") == 0.0
    assert exact_match("Warsaw Curie Marie", "Marie Curie Warsaw") == 0.0


def test_exact_match_matches_whole_words_only():
    assert exact_match("Annabel", "Ann") == 0.0
    assert exact_match("I met Ann today", "Ann") == 1.0


def test_exact_match_takes_any_gold_and_zero_for_empty():
    assert exact_match("born in Lyon", ["Paris", "Lyon"]) == 1.0
    assert exact_match("", "Lyon") == 0.0
    assert exact_match("Lyon", "...") == 0.0


# ---- tables and files -------------------------------------------------------------------
def _outputs() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "prediction": ["Paris France", "Paris", None, "Ada Lovelace"],
            "answer": [["Paris France"], ["Paris France"], ["Rome"], ["Ada Byron", "Ada Lovelace"]],
            "direction": ["forward", "forward", "backward", "backward"],
            "group": ["N2D", "N2D", "D2N", None],
        }
    )


def test_score_rows_adds_per_row_scores():
    scored = score_rows(_outputs())
    assert scored["accuracy"].to_list() == [1.0, 0.5, 0.0, 1.0]
    assert scored["exact_match"].to_list() == [1.0, 0.0, 0.0, 1.0]


def test_score_rows_accepts_a_string_gold_column():
    frame = pl.DataFrame({"prediction": ["Paris France", "Rome"], "answer": ["Paris", "Paris"]})
    assert score_rows(frame)["accuracy"].to_list() == [1.0, 0.0]


def test_summary_reports_overall_direction_and_group_means():
    summary = summarize_scores(score_rows(_outputs()))
    assert summary["n"] == 4
    assert summary["accuracy"] == pytest.approx(2.5 / 4)
    assert summary["exact_match"] == pytest.approx(0.5)
    assert summary["by_direction"] == {
        "backward": {"n": 2, "accuracy": 0.5, "exact_match": 0.5},
        "forward": {"n": 2, "accuracy": 0.75, "exact_match": 0.5},
    }
    assert summary["by_group"]["N2D"] == {"n": 2, "accuracy": 0.75, "exact_match": 0.5}
    assert summary["by_group"][""]["n"] == 1  # a missing group is the empty group


def test_summary_omits_breakdowns_without_their_columns():
    frame = pl.DataFrame({"prediction": ["Paris"], "answer": ["Paris"]})
    assert summarize_scores(score_rows(frame)) == {"n": 1, "accuracy": 1.0, "exact_match": 1.0}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_score_file_reads_each_supported_format(tmp_path, suffix):
    frame = pl.DataFrame({"question": ["Where?", "Who?"], "answer": ["Paris", "Ada"], "out": ["Paris", "Bob"]})
    path = tmp_path / f"outputs{suffix}"
    {".jsonl": frame.write_ndjson, ".parquet": frame.write_parquet, ".csv": frame.write_csv}[suffix](path)
    assert score_file(path, pred_col="out") == {"n": 2, "accuracy": 0.5, "exact_match": 0.5}


def test_score_file_reads_list_answers_from_jsonl(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text(json.dumps({"answer": ["Rome", "Paris"], "prediction": "Paris", "direction": "forward"}) + "\n")
    assert score_file(path)["by_direction"]["forward"]["accuracy"] == 1.0


def test_score_file_rejects_missing_file_column_and_garbage(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        score_file(tmp_path / "absent.jsonl")
    path = tmp_path / "outputs.csv"
    path.write_text("answer,output\nParis,Paris\n")
    with pytest.raises(ValueError, match="no column 'prediction'"):
        score_file(path)
    garbage = tmp_path / "outputs.parquet"
    garbage.write_text("not parquet")
    with pytest.raises(ValueError, match="cannot read") as error:
        score_file(garbage)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="expected a"):
        score_file(tmp_path / "outputs.txt")
