"""The paper's answer metric, so maskft's accuracies are comparable with its tables.

`rouge1_recall` reproduces the paper's `compute_openQA_recall` (paper-notes §4) with the
tokenisation DESIGN.md fixes: delete `string.punctuation`, split on whitespace, drop a
small stopword list case-insensitively, then ROUGE-1 recall as the `rouge` 1.0.1 package
computes it — unique unigrams (a set), case-sensitive — best over the gold answers.
`exact_match` is a stricter companion the paper does not report.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

import polars as pl

STOPWORDS = frozenset({"a", "of", "the", "and", "is", "are", "be", "to", "new", "on", "in", "at", "an", "for"})
_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)
_READERS = {".jsonl": pl.read_ndjson, ".ndjson": pl.read_ndjson, ".parquet": pl.read_parquet, ".csv": pl.read_csv}


def content_words(text: str) -> set[str]:
    """The unique words ROUGE-1 compares: punctuation deleted, stopwords dropped, case kept."""
    words = text.translate(_DELETE_PUNCTUATION).split()
    return {w for w in words if w.lower() not in STOPWORDS}


def rouge1_recall(prediction: str, answers: str | Sequence[str]) -> float:
    """Fraction of a gold answer's content words found in `prediction`, best over golds."""
    predicted = content_words(prediction or "")
    if not predicted:
        return 0.0
    best = 0.0
    for gold in _as_list(answers):
        wanted = content_words(gold)
        if wanted:
            best = max(best, len(wanted & predicted) / len(wanted))
    return best


def normalize(text: str) -> str:
    """Exact-match normal form: lower-cased, punctuation deleted, whitespace collapsed to one space."""
    return " ".join(text.translate(_DELETE_PUNCTUATION).lower().split())


def exact_match(prediction: str, answers: str | Sequence[str]) -> float:
    """1.0 if some normalised gold answer occurs in the normalised prediction as whole words.

    Whole words: "ann" does not match inside "annabel". Stopwords are kept here.
    """
    predicted = f" {normalize(prediction or '')} "
    for gold in _as_list(answers):
        wanted = normalize(gold)
        if wanted and f" {wanted} " in predicted:
            return 1.0
    return 0.0


def score_rows(frame: pl.DataFrame, pred_col: str = "prediction", gold_col: str = "answer") -> pl.DataFrame:
    """`frame` plus `accuracy` (ROUGE-1 recall) and `exact_match`; the gold column is str or list[str]."""
    for column in (pred_col, gold_col):
        if column not in frame.columns:
            raise ValueError(f"column {column!r} not found (columns: {', '.join(frame.columns)})")
    predictions = frame[pred_col].cast(pl.Utf8).fill_null("").to_list()
    golds = _gold_lists(frame[gold_col])
    return frame.with_columns(
        pl.Series("accuracy", [rouge1_recall(p, g) for p, g in zip(predictions, golds)], dtype=pl.Float64),
        pl.Series("exact_match", [exact_match(p, g) for p, g in zip(predictions, golds)], dtype=pl.Float64),
    )


def summarize_scores(frame: pl.DataFrame) -> dict:
    """Mean accuracy / exact match overall and per `direction` and `group` (when present).

    Means of an empty frame are None (JSON null), not a made-up number.
    """
    missing = [c for c in ("accuracy", "exact_match") if c not in frame.columns]
    if missing:
        raise ValueError(f"frame has no {' or '.join(missing)} column: score it with score_rows first")
    summary = _means(frame)
    for column, key in (("direction", "by_direction"), ("group", "by_group")):
        if column in frame.columns:
            keyed = frame.with_columns(pl.col(column).cast(pl.Utf8).fill_null(""))
            summary[key] = {
                value: _means(keyed.filter(pl.col(column) == value)) for value in sorted(keyed[column].unique().to_list())
            }
    return summary


def score_file(path: str | Path, pred_col: str = "prediction", gold_col: str = "answer") -> dict:
    """Score a .jsonl/.parquet/.csv file of model outputs: `summarize_scores` of its rows."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"cannot score {path}: expected a {', '.join(_READERS)} file")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        frame = reader(path)
    except (OSError, pl.exceptions.PolarsError, ValueError) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot read {path}: {detail}") from None
    for column in (pred_col, gold_col):
        if column not in frame.columns:
            raise ValueError(f"{path} has no column {column!r} (columns: {', '.join(frame.columns)})")
    return summarize_scores(score_rows(frame, pred_col, gold_col))


def _as_list(answers: str | Sequence[str] | None) -> list[str]:
    if answers is None:
        return []
    if isinstance(answers, str):
        return [answers]
    return [a for a in answers if a is not None]


def _gold_lists(column: pl.Series) -> list[list[str]]:
    if isinstance(column.dtype, pl.List):
        return [_as_list(v) for v in column.cast(pl.List(pl.Utf8)).to_list()]
    return [_as_list(v) for v in column.cast(pl.Utf8).to_list()]


def _means(frame: pl.DataFrame) -> dict:
    n = frame.height
    return {
        "n": n,
        "accuracy": float(frame["accuracy"].mean()) if n else None,
        "exact_match": float(frame["exact_match"].mean()) if n else None,
    }
