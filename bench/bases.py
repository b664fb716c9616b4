"""How much of a result is the base model? Seed means per base, then per base setting.

    python bench/bases.py STUDY_DIR [STUDY_DIR ...] [--by-group] [--json]

Issue 6's targets are means over trial seeds on one base model, yet each base stage is a
draw too: on namedesc-distinct two 9-paraphrase bases built alike gave AR same-order
forward .71 and .78. This groups the studies' finished trials by the base model they
fine-tuned (the resolved [base] block of each study.toml) and by base setting (that block
without its seed), and prints for every trial condition:

- per base: the seed mean of best-point test forward / backward and retention, as
  bench/science.py counts them, and how many epochs the AR base stage trained (read from
  the base cache's report.json while it is there: the stage stops at its QA target);
- per setting: the mean over bases, the std between base means and its standard error,
  and the pooled std of trial seeds within a base, so that a difference between settings
  can be read against both sources of spread;
- per base epochs trained, the same over every setting.

`--by-group` adds each question group's test accuracy at the best point (namedesc: `N2D
for`, `D2N for`, ... as in `maskft report`'s "By question group"), to see which cell of a
direction holds its mean down on every base or only on some.

Studies must agree on [trial] and [eval]; their bases may differ in anything.
Exit code 0, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import polars as pl

from maskft.ablate import store
from maskft.ablate.report import group_accuracy, trial_summary
from maskft.bench.science import load_studies
from maskft.datasets.registry import resolve_dataset
from maskft.trainers.base_stage import BaseConfig, base_dir
from maskft.trainers.results import CONDITION_COLUMNS

BASE_FIELDS = tuple(f.name for f in fields(BaseConfig))
METRICS = {"best_forward": "fwd", "best_backward": "bwd", "base_last": "retention"}


def per_trial(study_dirs: list[Path | str], by_group: bool = False) -> pl.DataFrame:
    """One row per finished trial: its condition, seed, metrics (with `by_group`, one per
    question group and direction too), base (a label and the base setting without the
    seed) and the epochs its AR base trained (null if unknown)."""
    study_dirs = [Path(d) for d in study_dirs]
    results = load_studies(study_dirs, may_differ=BASE_FIELDS)
    protocols = {}
    for study_dir in study_dirs:
        protocol = store.study_protocol(study_dir)
        if protocol is None:
            raise ValueError(f"{study_dir} has no study.toml, so the base its trials fine-tuned is unknown")
        protocols[study_dir] = protocol["base"]
    varying = sorted(k for k in BASE_FIELDS if k != "seed" and len({json.dumps(b[k]) for b in protocols.values()}) > 1)
    owner = {trial_id: Path(study) for trial_id, study in results.select("trial_id", "study").unique().iter_rows()}
    summary = trial_summary(results)
    cells = group_cells(results, summary) if by_group else {}
    cache = {d: _cache_dir(d) for d in study_dirs}
    epochs: dict[tuple, int | None] = {}
    rows = []
    for trial in summary.iter_rows(named=True):
        study_dir = owner[trial["trial_id"]]
        base = protocols[study_dir]
        setting = ", ".join(f"{k}={base[k]}" for k in varying) or "all"
        key = (trial["dataset"], json.dumps(base, sort_keys=True))
        if key not in epochs:
            epochs[key] = _base_epochs(trial["dataset"], base, cache[study_dir])
        rows.append({**{c: trial[c] for c in CONDITION_COLUMNS}, "seed": trial["seed"],
                     **{m: trial[m] for m in METRICS}, **cells.get(trial["trial_id"], {}), "setting": setting, "base_seed": base["seed"],
                     "base": f"{setting} · base seed {base['seed']}", "base_epochs": epochs[key]})
    return pl.DataFrame(rows, infer_schema_length=None)


def group_cells(results: pl.DataFrame, summary: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Trial id -> {"<group> <dir>": test accuracy at the trial's best point}, the columns of
    `maskft report`'s "By question group" table."""
    out: dict[str, dict[str, float]] = {}
    for trial_id, group, direction, accuracy in group_accuracy(results, summary).select("trial_id", "group", "direction", "accuracy").iter_rows():
        out.setdefault(trial_id, {})[f"{group} {direction[:3]}"] = accuracy
    return out


def metrics_of(trials: pl.DataFrame) -> list[str]:
    """The metric columns present: METRICS, then any group cells in name order."""
    known = {*CONDITION_COLUMNS, "seed", "setting", "base_seed", "base", "base_epochs", *METRICS}
    return [*METRICS, *sorted(c for c in trials.columns if c not in known)]


def _cache_dir(study_dir: Path) -> Path | None:
    cache = tomllib.loads((Path(study_dir) / store.SPEC).read_text()).get("cache")
    return Path(cache) if cache else None


def _base_epochs(dataset: str, base: dict, cache: Path | None) -> int | None:
    """Epochs the AR base stage trained, from its cached report; None once the cache is gone."""
    if cache is None:  # a study.toml without its cache: nothing to look in
        return None
    try:
        data = resolve_dataset(dataset, cache_dir=cache)
        report = base_dir(data, BaseConfig(**base), cache) / "ar" / "report.json"
        return json.loads(report.read_text())["epochs"] if report.is_file() else None
    except (ValueError, OSError, KeyError):
        return None


def base_means(trials: pl.DataFrame) -> pl.DataFrame:
    """Seed mean and std of each metric per condition and base."""
    stats = [e for m in metrics_of(trials) for e in (pl.col(m).mean().alias(m), pl.col(m).std().alias(f"{m}_within"))]
    keys = [*CONDITION_COLUMNS, "setting", "base_seed", "base", "base_epochs"]
    return trials.group_by(keys).agg(pl.len().alias("seeds"), *stats).sort(keys, nulls_last=True)


def spread(bases: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per condition and `by`: mean over bases, std between base means, its standard error,
    and the pooled within-base std of trial seeds (root mean of the within variances)."""
    stats = []
    metrics = [m for m in bases.columns if f"{m}_within" in bases.columns]
    for m in metrics:
        stats += [pl.col(m).mean().alias(m), pl.col(m).std().alias(f"{m}_between"),
                  (pl.col(f"{m}_within") ** 2).mean().sqrt().alias(f"{m}_within")]
    keys = [*CONDITION_COLUMNS, by]
    return (bases.group_by(keys).agg(pl.len().alias("bases"), pl.col("seeds").sum(), *stats)
            .with_columns([(pl.col(f"{m}_between") / pl.col("bases").sqrt()).alias(f"{m}_se") for m in metrics])
            .sort(keys, nulls_last=True))


# ---- printing ------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _condition(row: dict) -> str:
    ratio = f" ({row['mask_ratio']})" if row["mask_ratio"] is not None else ""
    extra = f", k={row['paraphrases']}" + (f" {row['order']}" if row["paraphrases"] else "")
    extra += f", replay {row['replay']:g}" if row["replay"] else ""
    return f"{Path(str(row['dataset'])).name} {row['model']} {row['method']}{ratio}{extra}"


def lines(trials: pl.DataFrame) -> list[str]:
    bases = base_means(trials)
    metrics = metrics_of(trials)
    names = " / ".join(METRICS.get(m, m) for m in metrics)
    out = [f"per base: seed mean (std within) of {names}"]
    for r in bases.iter_rows(named=True):
        trained = f"{r['base_epochs']} base epochs" if r["base_epochs"] is not None else "base epochs unknown"
        values = " / ".join(f"{_num(r[m])} ({_num(r[f'{m}_within'])})" for m in metrics)
        out.append(f"  {_condition(r)} · {r['base']} ({trained}): {values}, {r['seeds']} seeds")
    for by, title in (("setting", "per base setting"), ("base_epochs", "per base epochs trained")):
        out.append(f"{title}: mean over bases ± se (std between bases; pooled std within) of {names}")
        for r in spread(bases, by).iter_rows(named=True):
            values = " / ".join(f"{_num(r[m])} ± {_num(r[f'{m}_se'])} ({_num(r[f'{m}_between'])}; {_num(r[f'{m}_within'])})" for m in metrics)
            label = r[by] if by == "setting" else (f"{r[by]} epochs" if r[by] is not None else "unknown")
            out.append(f"  {_condition(r)} · {label}: {values}, {r['bases']} bases, {r['seeds']} trials")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dirs", nargs="+", type=Path, metavar="STUDY_DIR", help="study directories, grouped by base")
    parser.add_argument("--by-group", action="store_true", help="add each question group's accuracy (N2D for, D2N for, ...)")
    parser.add_argument("--json", action="store_true", help="the per-trial rows as JSON instead of the summary lines")
    args = parser.parse_args(argv)
    try:
        trials = per_trial(args.study_dirs, by_group=args.by_group)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(trials.to_dicts(), indent=2) if args.json else "\n".join(lines(trials)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
