"""`maskft report RUN_DIR`: the study's results as the paper shows them.

Writes `report.md` (Table 1/2 layout at the best `val` point, the last point with
retention, and Table 7's saturating fits A(1 − e^{−kx})) and PNG figures: data-efficiency
curves, accuracy against paraphrase count, and retention beside injection accuracy.
Everything is computed from the one results schema (trainers/results.py) with its
`headline` best-point selection, so the report of a study still running is simply the
report of the rows written so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from maskft.trainers.objectives import METHODS
from maskft.trainers.results import CONDITION_COLUMNS, DIRECTIONS, accuracy_curves, headline

SHORT = {"forward": "fwd", "backward": "bwd"}
PAPER_DATASETS = ("namedesc", "bio", "wiki")  # the paper's column order; other datasets follow by name
OPTIONAL_ROW_AXES = ("order", "replay", "model")  # table rows split on these only when they vary
FIT_X = "docs_seen"  # Table 7's x: documents seen (the paper used optimizer steps of one batch size)


def row_axes(results: pl.DataFrame) -> list[str]:
    """The columns that name a table row: method × mask ratio × paraphrases, plus order,
    replay and model where the study varies them."""
    varying = [c for c in OPTIONAL_ROW_AXES if results[c].n_unique() > 1]
    return ["method", "mask_ratio", "paraphrases", *varying]


def condition_order(frame: pl.DataFrame, axes: list[str]) -> pl.DataFrame:
    rank = pl.col("method").replace_strict(list(METHODS), list(range(len(METHODS))), default=len(METHODS))
    return frame.with_columns(rank.alias("_rank")).sort("_rank", *axes, nulls_last=False).drop("_rank")


def condition_label(row: dict, axes: list[str]) -> str:
    """`masked (random) k=4`, plus the optional axes that vary: a legend entry."""
    text = row["method"] + (f" ({row['mask_ratio']})" if row.get("mask_ratio") is not None else "")
    extras = {"paraphrases": "k={}", "order": "{}", "replay": "replay={:g}", "model": "{}"}
    return " ".join([text, *[extras[a].format(row[a]) for a in axes[2:] if row.get(a) is not None]])


# ---- tables ------------------------------------------------------------------------------


def trial_summary(results: pl.DataFrame) -> pl.DataFrame:
    """`headline` per trial joined with its condition, seed and base-population accuracy
    (retention) before injection and at the last point."""
    best = headline(results)
    if best.height == 0:
        return best
    conditions = results.select("trial_id", *CONDITION_COLUMNS, "seed").unique("trial_id")
    base = accuracy_curves(results, population="base", split=None).sort("epoch")
    retention = base.group_by("trial_id").agg(
        pl.col("total").first().alias("base_before"), pl.col("total").last().alias("base_last")
    )
    return best.join(conditions, on="trial_id").join(retention, on="trial_id", how="left")


def condition_means(summary: pl.DataFrame, axes: list[str]) -> pl.DataFrame:
    """Mean and sample std over seeds of each summary metric, per row condition and dataset."""
    metrics = [f"{point}_{d}" for point in ("best", "last") for d in ("forward", "backward", "forward_exact", "backward_exact")]
    metrics += ["base_before", "base_last"]
    stats = [e for m in metrics for e in (pl.col(m).mean().alias(f"{m}_mean"), pl.col(m).std().alias(f"{m}_std"))]
    return summary.group_by(*axes, "dataset").agg(pl.len().alias("seeds"), *stats)


def _cell(mean: float | None, std: float | None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    return f"{mean:.3f}" if std is None or math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *["| " + " | ".join(r) + " |" for r in rows]])


def _row_header(axes: list[str]) -> list[str]:
    names = {"method": "method", "mask_ratio": "mask ratio", "paraphrases": "paraphrases"}
    return [names.get(a, a) for a in axes]


def _row_cells(row: dict, axes: list[str]) -> list[str]:
    return ["—" if row[a] is None else (f"{row[a]:g}" if isinstance(row[a], float) else str(row[a])) for a in axes]


def _datasets(frame: pl.DataFrame) -> list[str]:
    names = frame["dataset"].unique().to_list()
    return sorted(names, key=lambda d: (PAPER_DATASETS.index(d) if d in PAPER_DATASETS else len(PAPER_DATASETS), d))


def _dataset_name(dataset: str) -> str:
    return Path(dataset).name or dataset


def metric_table(means: pl.DataFrame, axes: list[str], columns: list[tuple[str, str]]) -> str:
    """A markdown table: one row per condition, for each dataset the `(label, metric)` columns
    as mean ± std over seeds, and the seed count."""
    datasets = _datasets(means)
    header = _row_header(axes) + [f"{_dataset_name(d)} {label}" for d in datasets for label, _ in columns] + ["seeds"]
    rows = []
    for key in condition_order(means.select(axes).unique(), axes).iter_rows(named=True):
        mine = means.filter(*[pl.col(a).eq_missing(v) for a, v in key.items()])
        cells, seeds = [], []
        for dataset in datasets:
            found = mine.filter(pl.col("dataset") == dataset).to_dicts()
            stats = found[0] if found else {}
            seeds.append(str(stats.get("seeds", 0)))
            cells += [_cell(stats.get(f"{m}_mean"), stats.get(f"{m}_std")) for _, m in columns]
        rows.append(_row_cells(key, axes) + cells + [seeds[0] if len(set(seeds)) == 1 else "/".join(seeds)])
    return _markdown_table(header, rows)


def group_accuracy(results: pl.DataFrame, summary: pl.DataFrame) -> pl.DataFrame:
    """trial_id, group, direction, accuracy: each trial's test accuracy per question group
    (N2D/D2N, a biography's attribute, a wiki kind) at its own best point (`summary`'s
    best_epoch)."""
    at_best = summary.select("trial_id", pl.col("best_epoch").alias("epoch"))
    rows = results.filter((pl.col("population") == "inject") & (pl.col("split") == "test")).join(at_best, on=["trial_id", "epoch"])
    return rows.group_by("trial_id", "group", "direction").agg(pl.col("accuracy").mean())


def group_table(results: pl.DataFrame, summary: pl.DataFrame, axes: list[str]) -> str:
    """Test accuracy at each trial's best point per question group and direction: where a
    direction's mean hides a failing group."""
    per_trial = group_accuracy(results, summary)
    if per_trial.height == 0:
        return "No test questions at the best points."
    # each seed's cell at its own best point, then mean ± std over seeds like every other table
    conditions = results.select("trial_id", *axes, "dataset", "seed").unique("trial_id")
    per_seed = per_trial.join(conditions, on="trial_id").group_by(*axes, "dataset", "group", "direction", "seed").agg(pl.col("accuracy").mean())
    cells = per_seed.group_by(*axes, "dataset", "group", "direction").agg(
        pl.col("accuracy").mean().alias("mean"), pl.col("accuracy").std().alias("std")
    )
    cells = cells.with_columns((pl.col("group") + " " + pl.col("direction").str.slice(0, 3)).alias("column"))
    columns = sorted(cells["column"].unique().to_list())
    table = []
    for key in condition_order(cells.select(axes).unique(), axes).iter_rows(named=True):
        mine = cells.filter(*[pl.col(a).eq_missing(v) for a, v in key.items()])
        for dataset in _datasets(mine):
            found = {r["column"]: (r["mean"], r["std"]) for r in mine.filter(pl.col("dataset") == dataset).iter_rows(named=True)}
            table.append(_row_cells(key, axes) + [_dataset_name(dataset)] + [_cell(*found.get(c, (None, None))) for c in columns])
    return _markdown_table(_row_header(axes) + ["dataset", *columns], table)


# ---- Table 7: A(1 − e^{−kx}) -------------------------------------------------------------


@dataclass(frozen=True)
class SaturatingFit:
    """y ≈ A(1 − e^{−kx}): A the accuracy at convergence, k the rate per unit of x."""

    A: float
    k: float
    rmse: float


def fit_saturating(x, y, grid: int = 400) -> SaturatingFit | None:
    """Least squares without scipy: for each k on a log grid A has a closed form
    (A = Σy·f / Σf², f = 1 − e^{−kx}, clipped to [0, 1]); keep the best k, then refine once.

    Needs at least two distinct positive x values (otherwise k is not identified)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x >= 0)
    x, y = x[keep], y[keep]
    positive = np.unique(x[x > 0])
    if positive.size < 2:
        return None
    lo, hi = math.log10(1e-3 / positive[-1]), math.log10(1e3 / positive[0])
    for _ in range(2):
        ks = np.logspace(lo, hi, grid)
        f = -np.expm1(-np.outer(ks, x))  # 1 − e^{−kx}, rows: k
        # A is an accuracy: clipping the closed form to [0, 1] is the constrained optimum (the
        # SSE is a 1-D quadratic in A), so a curve still rising linearly cannot fit A = 500
        amplitudes = np.clip((f @ y) / np.maximum((f * f).sum(axis=1), 1e-300), 0.0, 1.0)
        sse = ((y - amplitudes[:, None] * f) ** 2).sum(axis=1)
        best = int(np.argmin(sse))
        step = (hi - lo) / (grid - 1)
        lo, hi = math.log10(ks[best]) - step, math.log10(ks[best]) + step
    return SaturatingFit(A=float(amplitudes[best]), k=float(ks[best]), rmse=float(math.sqrt(sse[best] / x.size)))


def fit_frame(results: pl.DataFrame, axes: list[str]) -> pl.DataFrame:
    """One fit per (row condition, dataset, direction) over all seeds' test points."""
    curves = accuracy_curves(results)
    fits = []
    for key, points in curves.group_by(*axes, "dataset"):
        for direction in DIRECTIONS:
            found = points.filter(pl.col(direction).is_not_null())
            fit = fit_saturating(found[FIT_X].to_numpy(), found[direction].to_numpy())
            fits.append({
                **dict(zip([*axes, "dataset"], key)), "direction": direction,
                "A": fit.A if fit else None, "k": fit.k if fit else None, "rmse": fit.rmse if fit else None,
            })
    return pl.DataFrame(fits, schema_overrides={"A": pl.Float64, "k": pl.Float64, "rmse": pl.Float64})


def fit_table(fits: pl.DataFrame, axes: list[str]) -> str:
    datasets = _datasets(fits)
    header = _row_header(axes) + [f"{_dataset_name(d)} {SHORT[r]} (A, k)" for d in datasets for r in DIRECTIONS]
    rows = []
    for key in condition_order(fits.select(axes).unique(), axes).iter_rows(named=True):
        mine = fits.filter(*[pl.col(a).eq_missing(v) for a, v in key.items()])
        cells = []
        for dataset in datasets:
            for direction in DIRECTIONS:
                found = mine.filter((pl.col("dataset") == dataset) & (pl.col("direction") == direction)).to_dicts()
                fit = found[0] if found else {}
                cells.append("—" if fit.get("A") is None else f"{fit['A']:.3f}, {fit['k']:.3g}")
        rows.append(_row_cells(key, axes) + cells)
    return _markdown_table(header, rows)


# ---- figures -----------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def seed_bands(curves: pl.DataFrame, axes: list[str], value: str) -> pl.DataFrame:
    """Mean and std over seeds per (condition, dataset, epoch); x is the mean documents seen."""
    return (
        curves.filter(pl.col(value).is_not_null())
        .group_by(*axes, "dataset", "epoch")
        .agg(pl.col(FIT_X).mean().alias("x"), pl.col(value).mean().alias("mean"), pl.col(value).std().fill_null(0.0).alias("std"))
        .sort("epoch")
    )


def _plot_lines(ax, bands: pl.DataFrame, axes: list[str], colors: dict) -> None:
    for key, line in bands.group_by(*axes, maintain_order=True):
        label = condition_label(dict(zip(axes, key)), axes)
        x, mean, std = (line[c].to_numpy() for c in ("x", "mean", "std"))
        ax.plot(x, mean, marker="o", markersize=3, color=colors[label], label=label)
        ax.fill_between(x, mean - std, mean + std, color=colors[label], alpha=0.2, linewidth=0)
    positive = bands.filter(pl.col("x") > 0)["x"]
    if positive.len():  # evaluation points double, so x is logarithmic; x = 0 ("before") stays visible
        low, high = float(positive.min()), float(positive.max())
        ax.set_xscale("symlog", linthresh=low)
        ax.set_xticks([0.0] + [10.0**p for p in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)])
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)


def _colors(results: pl.DataFrame, axes: list[str]) -> dict[str, tuple]:
    plt = _pyplot()
    labels = [condition_label(r, axes) for r in condition_order(results.select(axes).unique(), axes).iter_rows(named=True)]
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def _finish(fig, path: Path, colors: dict[str, tuple]) -> Path:
    """One legend for all panels, in table order, beside the grid."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=color, marker="o", markersize=3) for color in colors.values()]
    fig.legend(handles, list(colors), loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_data_efficiency(results: pl.DataFrame, axes: list[str], path: Path) -> Path:
    """Accuracy vs documents seen: a panel per dataset (rows) and direction (columns)."""
    plt = _pyplot()
    curves, colors = accuracy_curves(results), _colors(results, axes)
    datasets = _datasets(curves)
    fig, grid = plt.subplots(len(datasets), 2, figsize=(10, 3.4 * len(datasets)), squeeze=False, sharey=True)
    for r, dataset in enumerate(datasets):
        for c, direction in enumerate(DIRECTIONS):
            ax = grid[r][c]
            _plot_lines(ax, seed_bands(curves.filter(pl.col("dataset") == dataset), axes, direction), axes, colors)
            ax.set_title(f"{_dataset_name(dataset)}: {direction} (test)")
            ax.set_xlabel("documents seen")
            ax.set_ylabel("accuracy (ROUGE-1 recall)" if c == 0 else "")
    return _finish(fig, path, colors)


def plot_paraphrase_curve(summary: pl.DataFrame, axes: list[str], path: Path) -> Path:
    """Best-val-point test accuracy against paraphrase count, a line per method (and ratio)."""
    plt = _pyplot()
    line_axes = [a for a in axes if a != "paraphrases"]
    colors = _colors(summary, line_axes)
    datasets = _datasets(summary)
    fig, grid = plt.subplots(len(datasets), 2, figsize=(10, 3.4 * len(datasets)), squeeze=False, sharey=True)
    for r, dataset in enumerate(datasets):
        mine = summary.filter(pl.col("dataset") == dataset)
        for c, direction in enumerate(DIRECTIONS):
            ax = grid[r][c]
            stats = (
                mine.group_by(*axes)
                .agg(pl.col(f"best_{direction}").mean().alias("mean"), pl.col(f"best_{direction}").std().fill_null(0.0).alias("std"))
                .filter(pl.col("mean").is_not_null())
                .sort("paraphrases")
            )
            for key, line in stats.group_by(*line_axes, maintain_order=True):
                label = condition_label(dict(zip(line_axes, key)), line_axes)
                ax.errorbar(line["paraphrases"], line["mean"], yerr=line["std"], marker="o", capsize=3, color=colors[label], label=label)
            ax.set_title(f"{_dataset_name(dataset)}: {direction} (test, best val point)")
            ax.set_xlabel("paraphrases per document")
            ax.set_ylabel("accuracy (ROUGE-1 recall)" if c == 0 else "")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
    return _finish(fig, path, colors)


def plot_retention(results: pl.DataFrame, axes: list[str], path: Path) -> Path:
    """Injection (total test accuracy) beside retention (base-population accuracy) over training."""
    plt = _pyplot()
    inject, base = accuracy_curves(results), accuracy_curves(results, population="base", split=None)
    colors = _colors(results, axes)
    datasets = _datasets(inject)
    fig, grid = plt.subplots(len(datasets), 2, figsize=(10, 3.4 * len(datasets)), squeeze=False, sharey=True)
    for r, dataset in enumerate(datasets):
        for c, (curves, title) in enumerate([(inject, "injected facts (total, test)"), (base, "retention: base facts (total)")]):
            ax = grid[r][c]
            _plot_lines(ax, seed_bands(curves.filter(pl.col("dataset") == dataset), axes, "total"), axes, colors)
            ax.set_title(f"{_dataset_name(dataset)}: {title}")
            ax.set_xlabel("documents seen")
            ax.set_ylabel("accuracy (ROUGE-1 recall)" if c == 0 else "")
    return _finish(fig, path, colors)


# ---- the report --------------------------------------------------------------------------


def resolve_results(source: Path | str | list | pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str], dict[str, str], str]:
    """The results frame, failed trials (id -> error), unfinished trials (id -> status: their
    cells are the best point so far) and a name for the source: a results frame, a study
    directory, or several studies of one protocol read as one."""
    from maskft.ablate.status import unfinished_trials
    from maskft.ablate.store import load_failures, load_studies

    if isinstance(source, pl.DataFrame):
        results, failures, unfinished, name = source, {}, {}, "the given results"
    else:
        dirs = [Path(d) for d in (source if isinstance(source, list) else [source])]
        results = load_studies(dirs).drop("recovery_chats", "study")
        failures = {trial: error for d in dirs for trial, error in load_failures(d).items()}
        reported = set(results["trial_id"]) - set(failures)
        unfinished = {trial: status for d in dirs for trial, status in unfinished_trials(d).items() if trial in reported}
        name = ", ".join(map(str, dirs))
    if results.height == 0 or headline(results).height == 0:
        raise ValueError(f"no results yet in {name}")
    return results, failures, unfinished, name


def write_report(source: Path | str | list | pl.DataFrame, out_dir: Path | str | None = None) -> list[Path]:
    """Write report.md and its PNG figures into `out_dir` (default: STUDY_DIR/report for one
    study); return the written paths, report.md first. Raises ValueError when nothing was
    reported yet."""
    if isinstance(source, list) and len(source) == 1:
        source = source[0]
    if out_dir is None and isinstance(source, (pl.DataFrame, list)):
        raise ValueError("--out is needed to report several studies (or a results frame)")
    results, failures, unfinished, name = resolve_results(source)
    if out_dir is None:
        out_dir = Path(source) / "report"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    axes = row_axes(results)
    summary = trial_summary(results)
    means = condition_means(summary, axes)
    has_base = results.filter(pl.col("population") == "base").height > 0

    figures = [
        plot_data_efficiency(results, axes, out / "data_efficiency.png"),
        plot_paraphrase_curve(summary, axes, out / "paraphrases.png"),
    ]
    if has_base:
        figures.append(plot_retention(results, axes, out / "retention.png"))

    points = results.select("trial_id", "epoch").unique().height
    sections = [
        "# maskft study report",
        f"Source: `{name}` — {summary.height} trials, {points} evaluation points. Accuracy is the "
        "paper's ROUGE-1 recall; cells are mean ± std over seeds.",
        "## Test accuracy at the best validation point (the paper's Tables 1/2 layout)",
        "The best point maximises mean forward/backward accuracy on the `val` question "
        "templates; the cell is `test` accuracy at that point.",
        metric_table(means, axes, [("fwd", "best_forward"), ("bwd", "best_backward")]),
        "## Last evaluation point and retention",
        "Retention is accuracy on a sample of base-population facts (known before injection): "
        "before injection and at the last point." if has_base else "This dataset has no base-population questions, so retention is not measured.",
        metric_table(
            means, axes,
            [("fwd (last)", "last_forward"), ("bwd (last)", "last_backward")]
            + ([("base before", "base_before"), ("base last", "base_last")] if has_base else []),
        ),
        "## Exact match at the same points",
        "The share of test answers that match the reference exactly, at the best validation "
        "point chosen above and at the last point: where answers share frame words (wiki), "
        "ROUGE-1 recall sits on a floor and exact match is the number that moves.",
        metric_table(
            means, axes,
            [("fwd", "best_forward_exact"), ("bwd", "best_backward_exact"),
             ("fwd (last)", "last_forward_exact"), ("bwd (last)", "last_backward_exact")],
        ),
        "## By question group (test, best point, mean ± std over seeds)",
        "Each direction's accuracy split by the dataset's question groups (namedesc: what the "
        "question asks, N2D the description given the name, D2N the name given the description, "
        "so 'D2N for' is the paper's D2N-f and 'D2N bac' its N2D-b; bio: the attribute asked; "
        "wiki: the entity kind).",
        group_table(results, summary, axes),
        "## Saturating fits A(1 − e^{−kx}) (the paper's Table 7)",
        f"x = documents seen (`{FIT_X}`; the paper used optimizer steps), fitted by least squares "
        "over all seeds' test points; A is the accuracy at convergence, k the rate per document "
        "(1/k documents reach 63% of A). \"—\": fewer than two evaluation points after the start.",
        fit_table(fit_frame(results, axes), axes),
        *(["## Failed trials", "\n".join(f"- `{t}`: {e}" for t, e in sorted(failures.items()))] if failures else []),
        *(["## Unfinished trials", "Counted above at their best point so far (`maskft ablate --resume` finishes them):",
           "\n".join(f"- `{t}`: {s}" for t, s in sorted(unfinished.items()))] if unfinished else []),
        "## Figures",
        *[f"![{p.stem}]({p.name})" for p in figures],
    ]
    report = out / "report.md"
    report.write_text("\n\n".join(sections) + "\n")
    return [report, *figures]
