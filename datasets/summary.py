"""Counts that describe a dataset at a glance (what `maskft data show --json` prints).

Everything is plain ints, floats, strings, lists and dicts so the result goes straight to
JSON. Shape:

    name
    documents   {population: {originals, paraphrases: {order: n},
                              per_document: {order: {min, max}}}}
    lengths     {population: {words_mean, words_max[, tokens_mean, tokens_max]}}  (originals)
    questions   {total, by_population, by_direction, by_group, by_split,
                 by_cell: [{population, split, direction, group, n}], lengths: {...}}
"""

from __future__ import annotations

from typing import Callable

import polars as pl

from maskft.datasets.schema import ORDERS, KnowledgeData

CELL = ("population", "split", "direction", "group")


def summarize(data: KnowledgeData, count_tokens: Callable[[str], int] | None = None) -> dict:
    """Documents, paraphrases and questions of `data`, counted along every axis studies vary.

    `per_document[order]["min"]` is the largest `--paraphrases K` every original of the
    population can supply.
    """
    docs, questions = data.documents, data.questions
    populations = sorted(docs.filter(pl.col("order") == "original")["population"].unique().to_list())
    return {
        "name": data.name,
        "documents": {pop: _document_counts(docs, pop) for pop in populations},
        "lengths": {pop: _length_stats(data.originals(pop)["text"].to_list(), count_tokens) for pop in populations},
        "questions": {
            "total": questions.height,
            **{f"by_{axis}": _counts(questions, axis) for axis in CELL},
            "by_cell": questions.group_by(CELL).len("n").sort(CELL).to_dicts(),
            "lengths": _length_stats(questions["question"].to_list(), count_tokens),
        },
    }


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {str(key): int(n) for key, n in frame.group_by(column).len().sort(column).iter_rows()}


def _document_counts(docs: pl.DataFrame, population: str) -> dict:
    docs = docs.filter(pl.col("population") == population)
    originals = docs.filter(pl.col("order") == "original").select("doc_id")
    paraphrases, per_document = {}, {}
    for order in ORDERS:
        per_doc = docs.filter(pl.col("order") == order).group_by("paraphrase_of").len()
        counts = originals.join(per_doc, left_on="doc_id", right_on="paraphrase_of", how="left")["len"].fill_null(0)
        paraphrases[order] = int(counts.sum())
        per_document[order] = {"min": int(counts.min()), "max": int(counts.max())}
    return {"originals": originals.height, "paraphrases": paraphrases, "per_document": per_document}


def _length_stats(texts: list[str], count_tokens: Callable[[str], int] | None) -> dict[str, float | int]:
    if not texts:
        return {}
    stats = _mean_max("words", [len(t.split()) for t in texts])
    if count_tokens is not None:
        stats.update(_mean_max("tokens", [count_tokens(t) for t in texts]))
    return stats


def _mean_max(unit: str, values: list[int]) -> dict[str, float | int]:
    return {f"{unit}_mean": round(sum(values) / len(values), 2), f"{unit}_max": max(values)}
