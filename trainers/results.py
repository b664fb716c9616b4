"""The one results schema: a row per (trial, evaluation point, population, split, direction, group).

`maskft train`, Ray trials, the results store, the report and the TUI all read and write
exactly these columns (DESIGN.md "Interfaces").
"""

from __future__ import annotations

import polars as pl

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "trial_id": pl.Utf8,
    "dataset": pl.Utf8,
    "method": pl.Utf8,
    "mask_ratio": pl.Utf8,  # "random" | "schedule" | a number as text; null for methods without one
    "paraphrases": pl.Int64,
    "order": pl.Utf8,
    "replay": pl.Float64,
    "model": pl.Utf8,
    "seed": pl.Int64,
    "epoch": pl.Int64,
    "step": pl.Int64,
    "docs_seen": pl.Int64,
    "tokens_seen": pl.Int64,
    "wall_s": pl.Float64,
    "loss": pl.Float64,
    "population": pl.Utf8,  # "inject" | "base" (retention sample)
    "split": pl.Utf8,  # "val" | "test"
    "direction": pl.Utf8,  # "forward" | "backward"
    "group": pl.Utf8,
    "n": pl.Int64,  # questions behind this row's means
    "accuracy": pl.Float64,  # ROUGE-1 recall, the paper's metric
    "exact_match": pl.Float64,
}
DIRECTIONS = ("forward", "backward")
CONDITION_COLUMNS = ["dataset", "method", "mask_ratio", "paraphrases", "order", "replay", "model"]


def empty_results() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULT_SCHEMA)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns in schema order and types; fails loudly on a missing column."""
    missing = [c for c in RESULT_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"results rows lack column(s): {', '.join(missing)}")
    return frame.select([pl.col(c).cast(t) for c, t in RESULT_SCHEMA.items()])


def accuracy_curves(
    results: pl.DataFrame, population: str = "inject", split: str | None = "test", metric: str = "accuracy"
) -> pl.DataFrame:
    """Per (trial, evaluation point): forward, backward and total accuracy (question-weighted
    over groups; total = mean of the two directions, the paper's "total accuracy").

    `split=None` pools val and test (used for the small base-population retention sample);
    `metric="exact_match"` gives the same curves in exact match instead of ROUGE-1 recall.
    """
    rows = results.filter(pl.col("population") == population)
    if split is not None:
        rows = rows.filter(pl.col("split") == split)

    def direction_mean(direction: str) -> pl.Expr:
        mine = pl.col("direction") == direction
        weighted = (pl.col(metric) * pl.col("n")).filter(mine).sum() / pl.col("n").filter(mine).sum()
        return weighted.fill_nan(None).alias(direction)

    return (
        rows.group_by("trial_id", "epoch")
        .agg(
            *[pl.col(c).first() for c in (*CONDITION_COLUMNS, "seed", "step", "docs_seen", "tokens_seen")],
            *[direction_mean(d) for d in DIRECTIONS],
        )
        .with_columns(pl.mean_horizontal(*DIRECTIONS).alias("total"))
        .sort("trial_id", "epoch")
    )


def headline(results: pl.DataFrame, population: str = "inject") -> pl.DataFrame:
    """Per trial: forward/backward test accuracy at the best `val` point and at the last point,
    and exact match at the same points (`*_exact`: on wiki, where frame words hold ROUGE
    recall on a floor, the one number that moves).

    The best point maximises the mean of forward and backward `val` accuracy (the paper's
    "total accuracy", but chosen on held-out question templates); when a dataset has no
    `val` questions the test numbers select themselves, as in the paper, and the
    `selected_on` column says so.
    """
    rows = results.filter(pl.col("population") == population)
    if rows.height == 0:
        return pl.DataFrame()
    test = accuracy_curves(rows, population, "test")
    val = accuracy_curves(rows, population, "val").with_columns(pl.lit("val").alias("split"))
    without_val = test.filter(~pl.col("trial_id").is_in(val["trial_id"].implode())).with_columns(pl.lit("test").alias("split"))
    best = (
        pl.concat([val, without_val])
        .sort("total", "epoch", descending=[True, False], nulls_last=True)
        .group_by("trial_id", maintain_order=True)
        .first()
        .select("trial_id", pl.col("epoch").alias("best_epoch"), pl.col("split").alias("selected_on"))
    )
    last = test.group_by("trial_id").agg(pl.col("epoch").max().alias("last_epoch"))
    exact = accuracy_curves(rows, population, "test", metric="exact_match").select(
        "trial_id", "epoch", *[pl.col(d).alias(f"{d}_exact") for d in DIRECTIONS]
    )
    test = test.join(exact, on=["trial_id", "epoch"], how="left")
    at = lambda which: test.select(  # noqa: E731 - the test numbers at the chosen epoch
        "trial_id", pl.col("epoch").alias(f"{which}_epoch"),
        *[pl.col(c).alias(f"{which}_{c}") for c in ("forward", "backward", "forward_exact", "backward_exact")],
    )
    out = best.join(last, on="trial_id").join(at("best"), on=["trial_id", "best_epoch"], how="left")
    return out.join(at("last"), on=["trial_id", "last_epoch"], how="left").sort("trial_id")
