"""Does a study show the paper's pattern? Issue 6's targets as PASS/FAIL lines with the numbers.

    python bench/science.py STUDY_DIR [STUDY_DIR ...] [--json]

Every number is test accuracy (the paper's ROUGE-1 recall) on the inject population at
each trial's best `val` point (`trainers.results.headline`, via the report's
`trial_summary`), then mean ± sample std over seeds per condition (`condition_means`).
A check whose condition the study lacks is SKIPped with the reason, so a partial study
can be checked too. Several study directories are merged: each one's `study.toml` says
how its base models were made, so a study run with `[base] recovery_chats = false` is
the "base stage without recovery chats" control; studies that differ in any other
trial, base or evaluation setting are refused, since their seeds could not be averaged.
Exit code 0 when no check FAILs, 1 otherwise, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import operator
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from maskft.ablate.report import PAPER_DATASETS, condition_means, trial_summary
from maskft.ablate import store
from maskft.ablate.status import unfinished_trials

# A check's condition is these defaults overridden by its `where`: the protocol as
# published (no replay, recovery chats in the base mixture, documents without paraphrases).
DEFAULTS: dict = {"mask_ratio": None, "paraphrases": 0, "order": "same", "replay": 0.0, "recovery_chats": True}
CONDITION = ["model", "method", "mask_ratio", "paraphrases", "order", "replay", "recovery_chats"]
COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, ">": operator.gt}
TOLERANCE = 1e-9  # seed means of exactly the threshold pass; float noise must not flip them


@dataclass(frozen=True)
class Largest:
    """The largest paraphrase count the study has for the condition, if at least `at_least`."""

    at_least: int


@dataclass(frozen=True)
class Check:
    """One target: the condition's seed mean `compare`d with `threshold`, or with the
    same condition changed by `versus` (at the same resolved paraphrase count)."""

    where: dict
    direction: str
    compare: str
    threshold: float | None = None
    versus: dict | None = None


@dataclass(frozen=True)
class SweepShape:
    """Along `axis`, every `extremes` value lies at least `margin` below the best `middle` value."""

    where: dict
    direction: str
    axis: str
    extremes: tuple[str, ...]
    middle: tuple[str, ...]
    margin: float


@dataclass(frozen=True)
class Contrast:
    """Reported whatever it shows: each condition the study ran at both `values` of `axis`."""

    title: str
    axis: str
    values: tuple
    metrics: tuple[str, ...]


AR_PARAPHRASED = {"method": "ar", "paraphrases": Largest(9)}
AR_PERMUTED = {"method": "ar", "paraphrases": Largest(1), "order": "permuted"}
MASKED = {"method": "masked", "mask_ratio": "random"}
DLLM = {"method": "dllm", "mask_ratio": "random"}

CHECKS = (
    Check({"method": "ar"}, "backward", "<=", 0.10),
    Check(AR_PARAPHRASED, "forward", ">=", 0.80),
    Check(AR_PARAPHRASED, "backward", "<=", 0.15),
    Check(AR_PERMUTED, "backward", ">=", 0.40),
    Check(AR_PERMUTED, "backward", ">", versus={"order": "same"}),
    Check(MASKED, "backward", ">=", 0.60),
    Check(MASKED, "forward", ">=", 0.80),
    Check(DLLM, "backward", ">=", 0.60),
    Check(DLLM, "forward", ">=", 0.80),
    Check({"method": "masked", "mask_ratio": "0"}, "backward", "<=", 0.15),
    # the paper's control corrupts every document token (random-token at mask ratio 1)
    Check({"method": "random-token", "mask_ratio": "1"}, "backward", "<=", 0.15),
    SweepShape({"method": "masked"}, "backward", "mask_ratio", ("0", "1"), ("0.25", "0.5", "0.75", "random"), 0.20),
)
CONTRASTS = (
    Contrast("base with vs without recovery chats", "recovery_chats", (True, False), ("best_forward", "best_backward")),
    Contrast("replay 0 vs 0.5", "replay", (0.0, 0.5), ("best_forward", "best_backward", "base_last")),
    Contrast("every token vs a random fraction corrupted", "mask_ratio", ("1", "random"), ("best_forward", "best_backward")),
)
METRIC_NAMES = {"best_forward": "fwd", "best_backward": "bwd", "base_last": "retention"}


@dataclass(frozen=True)
class Outcome:
    status: str  # PASS | FAIL | SKIP | INFO
    scope: str  # the dataset (and model, when the study has several)
    check: str
    numbers: str
    values: dict = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status:<4}  {self.scope}  {self.check}: {self.numbers}"


# ---- loading ------------------------------------------------------------------------------


def load_studies(study_dirs: list[Path], may_differ: tuple[str, ...] = ("recovery_chats",)) -> pl.DataFrame:
    """Every study's finished trials, each once, with its base's `recovery_chats` (by default
    the one base setting allowed to differ: that is the control). A trial stopped or still
    running would count a best point that is not final as a seed, so it is left out, with a note."""
    results = store.load_studies(study_dirs, may_differ=may_differ)
    unfinished = sorted(set(results["trial_id"]) & set().union(*map(unfinished_trials, study_dirs)))
    if unfinished:
        print(f"note: {len(unfinished)} unfinished trial(s) left out: {', '.join(unfinished)}", file=sys.stderr)
        results = results.filter(~pl.col("trial_id").is_in(unfinished))
    if results.filter(pl.col("population") == "inject").height == 0:
        raise ValueError(f"no results yet in {', '.join(map(str, study_dirs))}")
    return results


def seed_means(results: pl.DataFrame) -> pl.DataFrame:
    """Mean and std over seeds per condition and dataset of the report's per-trial summary."""
    summary = trial_summary(results).join(results.select("trial_id", "recovery_chats").unique("trial_id"), on="trial_id")
    return condition_means(summary, CONDITION)


# ---- running the checks -------------------------------------------------------------------


def run_checks(results: pl.DataFrame) -> list[Outcome]:
    """Every check and contrast for every dataset (and model) in `results` (with `recovery_chats`)."""
    means = seed_means(results)
    several_models = means["model"].n_unique() > 1
    outcomes = []
    scopes = means.select("dataset", "model").unique().rows()
    for dataset, model in sorted(scopes, key=lambda s: (PAPER_DATASETS.index(s[0]) if s[0] in PAPER_DATASETS else len(PAPER_DATASETS), s)):
        scope = Path(dataset).name + (f"/{model}" if several_models else "")
        mine = means.filter((pl.col("dataset") == dataset) & (pl.col("model") == model))
        for check in CHECKS:
            run = _threshold if isinstance(check, Check) else _sweep
            outcomes.append(run(check, mine, scope))
        outcomes += [o for contrast in CONTRASTS for o in _contrast(contrast, mine, scope)]
    return outcomes


def _select(means: pl.DataFrame, where: dict) -> tuple[pl.DataFrame, dict]:
    """The rows of a condition and the condition itself, a `Largest` count resolved."""
    wanted = DEFAULTS | where
    fixed = {k: v for k, v in wanted.items() if not isinstance(v, Largest)}
    rows = means.filter(*[pl.col(k).eq_missing(v) for k, v in fixed.items()])
    for key, value in wanted.items():
        if isinstance(value, Largest):
            available = rows.filter(pl.col(key) >= value.at_least)[key]
            if available.len() == 0:
                return rows.clear(), wanted
            wanted = wanted | {key: available.max()}
            rows = rows.filter(pl.col(key) == wanted[key])
    return rows, wanted


def _label(condition: dict) -> str:
    """`ar k=9 permuted`, `masked (random) k=0 replay=0.5`: the condition as the issue names it."""
    k, ratio = condition["paraphrases"], condition["mask_ratio"]
    text = condition["method"] + (f" ({ratio})" if ratio is not None else "")
    text += f" k>={k.at_least}" if isinstance(k, Largest) else f" k={k}"
    if condition["order"] == "permuted":
        text += " permuted"
    if condition["replay"]:
        text += f" replay={condition['replay']:g}"
    if not condition["recovery_chats"]:
        text += " no-recovery-chats"
    return text


def _stat(row: dict, metric: str, with_seeds: bool = True) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    text = "—" if mean is None else f"{mean:.2f}" + ("" if std is None else f" ± {std:.2f}")
    return text + (f" ({_seeds(row['seeds'])})" if with_seeds else "")


def _seeds(count: int) -> str:
    return f"{count} seed" + ("s" if count != 1 else "")


def _threshold(check: Check, means: pl.DataFrame, scope: str) -> Outcome:
    rows, condition = _select(means, check.where)
    metric = f"best_{check.direction}"
    bound_text = f"{check.threshold:.2f}" if check.versus is None else _versus_text(check.versus)
    name = f"{_label(condition)} {check.direction} {check.compare} {bound_text}"
    if rows.height == 0:
        return Outcome("SKIP", scope, name, f"no {_label(condition)} trials")
    if rows[f"{metric}_mean"][0] is None:
        return Outcome("SKIP", scope, name, f"no {check.direction} test questions")
    row = rows.row(0, named=True)
    value, numbers = row[f"{metric}_mean"], _stat(row, metric)
    values = {"mean": value, "std": row[f"{metric}_std"], "seeds": row["seeds"]}
    if check.versus is None:
        bound = check.threshold
    else:
        other_rows, other = _select(means, condition | check.versus)
        if other_rows.height == 0 or other_rows[f"{metric}_mean"][0] is None:
            return Outcome("SKIP", scope, name, f"no {_label(other)} trials to compare with")
        other_row = other_rows.row(0, named=True)
        bound = other_row[f"{metric}_mean"]
        numbers += f" vs {_stat(other_row, metric)}"
        values |= {"versus_mean": bound, "versus_std": other_row[f"{metric}_std"], "versus_seeds": other_row["seeds"]}
    return Outcome("PASS" if _holds(value, check.compare, bound) else "FAIL", scope, name, numbers, values)


def _versus_text(versus: dict) -> str:
    return " ".join(f"{v}-{k}" if k == "order" else f"{k}={v}" for k, v in versus.items())


def _holds(value: float, compare: str, bound: float) -> bool:
    nudge = {"<=": TOLERANCE, ">=": -TOLERANCE, ">": 0.0}[compare]
    return COMPARE[compare](value, bound + nudge)


def _sweep(check: SweepShape, means: pl.DataFrame, scope: str) -> Outcome:
    condition = DEFAULTS | check.where | {check.axis: None}
    rows = means.filter(*[pl.col(k).eq_missing(v) for k, v in condition.items() if k != check.axis])
    metric = f"best_{check.direction}"
    found = {r[check.axis]: r for r in rows.iter_rows(named=True) if r[f"{metric}_mean"] is not None}
    label = _label(condition)
    extremes, middle = " and ".join(check.extremes), "/".join(check.middle)
    name = f"{label} {check.axis} sweep {check.direction}: {extremes} >= {check.margin:.2f} below best of {middle}"
    missing = [v for v in check.extremes if v not in found]
    if missing or not any(v in found for v in check.middle):
        absent = missing or list(check.middle)
        return Outcome("SKIP", scope, name, f"no {label} trials at {check.axis} {', '.join(absent)}")
    ordered = [v for v in (*check.extremes[:1], *check.middle, *check.extremes[1:]) if v in found]
    seed_counts = {found[v]["seeds"] for v in ordered}
    numbers = ", ".join(f"{v}: {_stat(found[v], metric, with_seeds=len(seed_counts) > 1)}" for v in ordered)
    if len(seed_counts) == 1:
        numbers += f" ({_seeds(seed_counts.pop())})"
    best_middle = max(found[v][f"{metric}_mean"] for v in check.middle if v in found)
    ok = all(_holds(found[v][f"{metric}_mean"], "<=", best_middle - check.margin) for v in check.extremes)
    values = {v: {"mean": found[v][f"{metric}_mean"], "std": found[v][f"{metric}_std"], "seeds": found[v]["seeds"]} for v in ordered}
    return Outcome("PASS" if ok else "FAIL", scope, name, numbers, values)


def _contrast(contrast: Contrast, means: pl.DataFrame, scope: str) -> list[Outcome]:
    title = contrast.title
    rows = means.filter(pl.col(contrast.axis).is_in(list(contrast.values)))
    others = [c for c in CONDITION if c != contrast.axis]
    outcomes = []
    for _, pair in rows.group_by(*others, maintain_order=True):
        found = {r[contrast.axis]: r for r in pair.iter_rows(named=True)}
        if not all(v in found for v in contrast.values):
            continue
        condition = {k: pair[k][0] for k in others} | {contrast.axis: DEFAULTS[contrast.axis]}
        parts = [
            f"{METRIC_NAMES[m]} " + " → ".join(_stat(found[v], m, with_seeds=False) for v in contrast.values)
            for m in contrast.metrics
        ]
        seeds = "/".join(str(found[v]["seeds"]) for v in contrast.values)
        values = {str(v): {m: found[v][f"{m}_mean"] for m in contrast.metrics} | {"seeds": found[v]["seeds"]} for v in contrast.values}
        outcomes.append(Outcome("INFO", scope, f"{title}, {_label(condition)}", "; ".join(parts) + f" ({seeds} seeds)", values))
    if not outcomes:
        outcomes.append(Outcome("SKIP", scope, title, f"no condition run at both {contrast.axis} values"))
    return sorted(outcomes, key=lambda o: o.check)


# ---- command line -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dirs", nargs="+", type=Path, metavar="STUDY_DIR", help="one or more study directories, merged")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args(argv)
    try:
        outcomes = run_checks(load_studies(args.study_dirs))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = any(o.status == "FAIL" for o in outcomes)
    if args.json:
        print(json.dumps({"passed": not failed, "checks": [asdict(o) for o in outcomes]}, indent=2))
    else:
        print("\n".join(o.line() for o in outcomes))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
