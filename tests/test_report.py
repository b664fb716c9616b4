"""`maskft report`: the paper-layout tables, the saturating fit and the figures, on
hand-made results frames (no training)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import polars as pl
import pytest

from maskft.ablate.report import fit_saturating, write_report
from maskft.trainers.results import accuracy_curves
from maskft.trainers.results import conform, empty_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_results(trials, epochs=(0, 1, 2, 4), accuracy=None, populations=("inject", "base"), docs_per_epoch=40):
    """Results rows in the one schema for `trials` (dicts of condition overrides).

    `accuracy(trial, epoch, population, split, direction)` gives each cell's accuracy;
    every cell is split into two groups of 5 questions with the same accuracy."""
    accuracy = accuracy or (lambda t, e, p, s, d: 0.1 * e)
    rows = []
    for overrides in trials:
        trial = {"dataset": "namedesc", "method": "ar", "mask_ratio": None, "paraphrases": 0, "order": "same",
                 "replay": 0.0, "model": "tiny", "seed": 0, **overrides}
        trial_id = f"{trial['method']}-{trial['mask_ratio']}-k{trial['paraphrases']}-{trial['dataset']}-s{trial['seed']}"
        for epoch in epochs:
            point = {"trial_id": trial_id, **trial, "epoch": epoch, "step": 3 * epoch, "docs_seen": docs_per_epoch * epoch,
                     "tokens_seen": 1000 * epoch, "wall_s": float(epoch), "loss": 1.0 / (1 + epoch)}
            for population in populations:
                for split in ("val", "test"):
                    for direction in ("forward", "backward"):
                        value = accuracy(trial, epoch, population, split, direction)
                        if value is None:
                            continue
                        for group in ("g1", "g2"):
                            rows.append({**point, "population": population, "split": split, "direction": direction,
                                         "group": group, "n": 5, "accuracy": value, "exact_match": value / 2})
    return conform(pl.DataFrame(rows, infer_schema_length=None))


GRID = [
    {"method": m, "mask_ratio": r, "paraphrases": k, "seed": s}
    for m, r in (("ar", None), ("masked", "random"))
    for k in (0, 4)
    for s in (0, 1)
]


def peaked_accuracy(trial, epoch, population, split, direction):
    """val peaks at epoch 2, test keeps rising: the report must take test at epoch 2."""
    if population == "base":
        return 0.5 - 0.05 * epoch
    bonus = {"ar": 0.0, "masked": 0.2}[trial["method"]] + 0.01 * trial["paraphrases"] + 0.02 * trial["seed"]
    bonus -= 0.1 if direction == "backward" else 0.0
    if split == "val":
        return max(0.0, {0: 0.0, 1: 0.3, 2: 0.6, 4: 0.4}[epoch] + bonus)
    return max(0.0, 0.1 * epoch + bonus)


@pytest.fixture(scope="module")
def grid_report(tmp_path_factory):
    """The report of 2 methods × 2 paraphrase counts × 2 seeds, written once for this module."""
    return write_report(make_results(GRID, accuracy=peaked_accuracy), tmp_path_factory.mktemp("report"))


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]


def test_accuracy_curves_weight_groups_by_question_count():
    results = make_results([{}], epochs=(1,), populations=("inject",))
    results = results.with_columns(
        pl.when(pl.col("group") == "g1").then(pl.lit(0.0)).otherwise(pl.lit(1.0)).alias("accuracy"),
        pl.when(pl.col("group") == "g1").then(pl.lit(1)).otherwise(pl.lit(3)).alias("n"),
    )
    curve = accuracy_curves(results).row(0, named=True)
    assert curve["forward"] == pytest.approx(0.75) and curve["total"] == pytest.approx(0.75)


def test_table_reports_mean_over_seeds_of_test_accuracy_at_best_val_point(grid_report):
    markdown = grid_report[0].read_text()
    rows = table_rows(markdown, "## Test accuracy at the best validation point")
    header, body = rows[0], rows[1:]
    assert header == ["method", "mask ratio", "paraphrases", "namedesc fwd", "namedesc bwd", "seeds"]
    by_condition = {tuple(r[:3]): r[3:] for r in body}
    # masked k=4: test at epoch 2 = 0.2 + 0.2 + 0.04 + {0, 0.02} -> mean 0.45, std 0.0141
    assert by_condition[("masked", "random", "4")] == ["0.450 ± 0.014", "0.350 ± 0.014", "2"]
    assert by_condition[("ar", "—", "0")] == ["0.210 ± 0.014", "0.110 ± 0.014", "2"]
    assert [r[0] for r in body] == ["ar", "ar", "masked", "masked"]  # the paper's method order


def test_last_point_and_retention_columns(grid_report):
    markdown = grid_report[0].read_text()
    rows = table_rows(markdown, "## Last evaluation point and retention")
    assert rows[0][3:] == ["namedesc fwd (last)", "namedesc bwd (last)", "namedesc base before", "namedesc base last", "seeds"]
    ar_k0 = next(r for r in rows if r[:3] == ["ar", "—", "0"])
    assert ar_k0[3:7] == ["0.410 ± 0.014", "0.310 ± 0.014", "0.500 ± 0.000", "0.300 ± 0.000"]


def test_exact_match_is_read_at_the_points_chosen_on_rouge_recall(grid_report):
    markdown = grid_report[0].read_text()
    rows = table_rows(markdown, "## Exact match at the same points")
    assert rows[0][3:] == ["namedesc fwd", "namedesc bwd", "namedesc fwd (last)", "namedesc bwd (last)", "seeds"]
    masked_k4 = next(r for r in rows if r[:3] == ["masked", "random", "4"])
    # the fixture's exact match is half its accuracy: epoch 2 (best val) .45/.35, epoch 4 .65/.55
    assert masked_k4[3:] == ["0.225 ± 0.007", "0.175 ± 0.007", "0.325 ± 0.007", "0.275 ± 0.007", "2"]


def test_group_table_splits_each_direction_by_question_group_at_the_best_point(tmp_path):
    def accuracy(trial, epoch, population, split, direction):  # val peaks at epoch 1
        return {0: 0.0, 1: 0.8, 2: 0.2}[epoch] if split == "val" else 0.1 * epoch
    results = make_results([{}], epochs=(0, 1, 2), accuracy=accuracy, populations=("inject",))
    results = results.with_columns(  # group g2 scores nothing: the mean would hide it
        pl.when(pl.col("group") == "g2").then(pl.lit(0.0)).otherwise(pl.col("accuracy")).alias("accuracy")
    )
    rows = table_rows(write_report(results, tmp_path)[0].read_text(), "## By question group")
    assert rows[0] == ["method", "mask ratio", "paraphrases", "dataset", "g1 bac", "g1 for", "g2 bac", "g2 for"]
    assert rows[1] == ["ar", "—", "0", "namedesc", "0.100", "0.100", "0.000", "0.000"]  # test at epoch 1


def test_group_table_gives_the_spread_over_seeds(tmp_path):
    def accuracy(trial, epoch, population, split, direction):  # seed 1 scores .2 more than seed 0
        return 0.1 * epoch + 0.2 * trial["seed"]
    results = make_results([{"seed": 0}, {"seed": 1}], epochs=(0, 1, 2), accuracy=accuracy, populations=("inject",))
    rows = table_rows(write_report(results, tmp_path)[0].read_text(), "## By question group")
    assert rows[1][4:] == ["0.300 ± 0.141"] * 4  # test at epoch 2 for both seeds: .2 and .4


def test_pngs_are_written_and_valid(grid_report):
    paths = grid_report
    pngs = [p for p in paths if p.suffix == ".png"]
    assert {p.name for p in pngs} == {"data_efficiency.png", "paraphrases.png", "retention.png"}
    for png in pngs:
        assert png.stat().st_size > 1000 and png.read_bytes()[:8] == PNG_MAGIC
        assert f"]({png.name})" in paths[0].read_text()


def test_fit_recovers_amplitude_and_rate():
    x = np.array([0, 50, 100, 200, 400, 800, 1600, 3200], dtype=float)
    y = 0.8 * (1 - np.exp(-0.004 * x)) + np.random.default_rng(0).normal(0, 0.01, x.size)
    fit = fit_saturating(x, y)
    assert fit.A == pytest.approx(0.8, rel=0.03) and fit.k == pytest.approx(0.004, rel=0.1)
    assert fit.rmse < 0.02


def test_fit_needs_two_positive_points():
    assert fit_saturating([0, 100], [0.0, 0.5]) is None
    assert fit_saturating([0, 100, 200], [0.0, 0.5, 0.7]) is not None


def test_fit_table_reports_a_and_k_per_direction(tmp_path):
    def saturating(trial, epoch, population, split, direction):
        return 0.9 * (1 - math.exp(-0.01 * 40 * epoch)) if direction == "forward" else 0.3 * (1 - math.exp(-0.002 * 40 * epoch))

    results = make_results([{"method": "dllm", "mask_ratio": "random"}], epochs=(0, 1, 2, 4, 8, 16), accuracy=saturating)
    markdown = write_report(results, tmp_path)[0].read_text()
    row = table_rows(markdown, "## Saturating fits")[1]
    (a_fwd, k_fwd), (a_bwd, k_bwd) = [map(float, cell.split(", ")) for cell in row[3:5]]
    assert a_fwd == pytest.approx(0.9, rel=0.01) and k_fwd == pytest.approx(0.01, rel=0.02)
    assert a_bwd == pytest.approx(0.3, rel=0.02) and k_bwd == pytest.approx(0.002, rel=0.05)


def test_running_study_with_single_points_and_missing_directions(tmp_path):
    finished = make_results([{"method": "masked", "mask_ratio": "random"}])
    just_started = make_results([{"method": "ar", "seed": 1}], epochs=(0,))
    forward_only = make_results(
        [{"method": "dllm", "mask_ratio": "random"}], accuracy=lambda t, e, p, s, d: 0.2 * e if d == "forward" else None
    )
    paths = write_report(pl.concat([finished, just_started, forward_only]), tmp_path)
    markdown = paths[0].read_text()
    dllm = next(r for r in table_rows(markdown, "## Test accuracy") if r[0] == "dllm")
    assert dllm[3:] == ["0.800", "—", "1"]  # one seed: no ± ; no backward questions: —
    fits = {r[0]: r[3:] for r in table_rows(markdown, "## Saturating fits")[1:]}
    assert fits["ar"] == ["—", "—"]  # only the before-injection point
    assert all(p.exists() for p in paths)


def test_mixed_orders_split_rows(tmp_path):
    results = make_results([{"paraphrases": 4, "order": "same"}, {"paraphrases": 4, "order": "permuted"}])
    header = table_rows(write_report(results, tmp_path)[0].read_text(), "## Test accuracy")[0]
    assert header[:4] == ["method", "mask ratio", "paraphrases", "order"]


def test_study_directory_is_read_and_reported_into_its_report_folder(tmp_path):
    make_results(GRID[:2]).write_parquet(tmp_path / "results.parquet")
    (tmp_path / "failures.json").write_text('{"dllm-x": "CUDA out of memory"}')
    paths = write_report(tmp_path)
    assert paths[0] == tmp_path / "report" / "report.md"
    assert "- `dllm-x`: CUDA out of memory" in paths[0].read_text()


def study(path, trials, toml="[trial]\nepochs = 60\n"):
    path.mkdir()
    make_results(trials).write_parquet(path / "results.parquet")
    (path / "study.toml").write_text(toml)
    return path


def test_several_studies_of_one_protocol_are_reported_as_one(tmp_path):
    # seeds 0 and 1 of one condition in two studies, seed 0 in both: it counts once
    first, second = study(tmp_path / "s0", GRID[:1]), study(tmp_path / "s1", GRID[1:2] + GRID[:1])
    rows = table_rows(write_report([first, second], tmp_path / "out")[0].read_text(), "## Test accuracy")
    assert [(r[:3], r[-1]) for r in rows[1:]] == [(["ar", "—", "0"], "2")]


def test_studies_of_different_protocols_or_without_out_are_refused(tmp_path):
    first = study(tmp_path / "a", GRID[:1])
    other = study(tmp_path / "b", GRID[1:2], "[trial]\nepochs = 100\n")
    with pytest.raises(ValueError, match=r"differ in \[trial\] epochs \(60 vs 100\)"):
        write_report([first, other], tmp_path / "out")
    with pytest.raises(ValueError, match="--out is needed"):
        write_report([first, first])


def test_study_without_results_or_directory_raises_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match=f"^no results yet in {re.escape(str(tmp_path))}$"):
        write_report(tmp_path)
    with pytest.raises(ValueError, match="^no study directory at "):
        write_report(tmp_path / "missing")


def test_empty_results_raise_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match=re.escape("no results yet in the given results")):
        write_report(empty_results(), tmp_path)


def test_fit_keeps_the_asymptote_an_accuracy_when_the_curve_is_still_linear():
    x = np.array([0.0, 100.0, 200.0, 400.0])
    fit = fit_saturating(x, 0.0015 * x)  # a straight line: unconstrained A would run off to infinity
    assert 0.0 <= fit.A <= 1.0


def test_trials_the_status_file_shows_unfinished_are_listed(tmp_path):
    make_results(GRID[:2]).write_parquet(tmp_path / "results.parquet")
    trials = make_results(GRID[:2])["trial_id"].unique().sort().to_list()
    status = {"trials": {trials[0]: {"status": "done"}, trials[1]: {"status": "stopped"}}}
    (tmp_path / "status.json").write_text(json.dumps(status))
    text = write_report(tmp_path)[0].read_text()
    assert "## Unfinished trials" in text and f"- `{trials[1]}`: stopped" in text and f"`{trials[0]}`" not in text.split("## Unfinished trials")[1]
