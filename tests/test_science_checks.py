"""bench/science.py: issue 6's pattern checks on hand-made results frames (no training)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from maskft.bench.science import load_studies, main, run_checks
from maskft.trainers.results import conform

RATIO_METHODS = ("masked", "random-token", "dllm")


def trial(method="ar", fwd=0.9, bwd=0.05, seed=0, retention=0.8, **condition) -> dict:
    """One trial's condition and its test accuracy at the best val point."""
    ratio = condition.pop("mask_ratio", "random" if method in RATIO_METHODS else None)
    return {"method": method, "mask_ratio": ratio, "fwd": fwd, "bwd": bwd, "seed": seed, "retention": retention, **condition}


def results(*trials: dict, recovery_chats: bool = True) -> pl.DataFrame:
    """Rows in the results schema: epoch 0 scores 0 everywhere (base facts 0.9), epoch 1 the
    trial's accuracy on val and test (base facts: its retention), so epoch 1 is the best point."""
    rows = []
    for t in trials:
        condition = {"dataset": "namedesc", "paraphrases": 0, "order": "same", "replay": 0.0, "model": "tiny"}
        condition |= {k: v for k, v in t.items() if k not in ("fwd", "bwd", "retention")}
        trial_id = "-".join(str(v) for v in condition.values()) + ("" if recovery_chats else "-norecovery")
        for epoch in (0, 1):
            point = {"trial_id": trial_id, **condition, "epoch": epoch, "step": epoch, "docs_seen": 60 * epoch,
                     "tokens_seen": 900 * epoch, "wall_s": float(epoch), "loss": 1.0, "group": "g", "n": 10}
            for split in ("val", "test"):
                for direction, value in (("forward", t["fwd"]), ("backward", t["bwd"])):
                    rows.append({**point, "population": "inject", "split": split, "direction": direction,
                                 "accuracy": value * epoch, "exact_match": 0.0})
                    rows.append({**point, "population": "base", "split": split, "direction": direction,
                                 "accuracy": t["retention"] if epoch else 0.9, "exact_match": 0.0})
    return conform(pl.DataFrame(rows, infer_schema_length=None)).with_columns(pl.lit(recovery_chats).alias("recovery_chats"))


def outcomes(*trials: dict) -> dict[str, tuple[str, str]]:
    """check text -> (status, numbers) for a one-dataset study."""
    return {o.check: (o.status, o.numbers) for o in run_checks(results(*trials))}


def status_of(found: dict, prefix: str) -> str:
    (status,) = [s for check, (s, _) in found.items() if check.startswith(prefix)]
    return status


PAPER_LIKE = [
    trial("ar", fwd=0.9, bwd=0.03),
    trial("ar", fwd=0.95, bwd=0.05, paraphrases=9),
    trial("ar", fwd=0.9, bwd=0.6, paraphrases=9, order="permuted"),
    trial("masked", fwd=0.92, bwd=0.7),
    trial("dllm", fwd=0.85, bwd=0.8),
    trial("masked", mask_ratio="0", fwd=0.9, bwd=0.04),
    trial("random-token", mask_ratio="1", fwd=0.9, bwd=0.06),
    *[trial("masked", mask_ratio=r, fwd=0.9, bwd=b) for r, b in (("0.25", 0.5), ("0.5", 0.66), ("0.75", 0.6), ("1", 0.2))],
]


def test_a_study_with_the_papers_pattern_passes_every_check():
    found = outcomes(*PAPER_LIKE)
    checks = {check: status for check, (status, _) in found.items() if status not in ("SKIP", "INFO")}
    assert len(checks) == 12 and set(checks.values()) == {"PASS"}
    assert found["ar k=0 backward <= 0.10"] == ("PASS", "0.03 (1 seed)")
    assert found["masked (0) k=0 backward <= 0.15"] == ("PASS", "0.04 (1 seed)")


def test_a_missed_target_fails_with_its_numbers():
    found = outcomes(trial("ar", fwd=0.9, bwd=0.3), trial("masked", fwd=0.7, bwd=0.7))
    assert found["ar k=0 backward <= 0.10"] == ("FAIL", "0.30 (1 seed)")
    assert found["masked (random) k=0 forward >= 0.80"] == ("FAIL", "0.70 (1 seed)")
    assert found["masked (random) k=0 backward >= 0.60"][0] == "PASS"


def test_seeds_are_averaged_and_their_spread_shown():
    found = outcomes(*[trial("ar", bwd=b, seed=s) for s, b in enumerate((0.05, 0.10, 0.15))])
    assert found["ar k=0 backward <= 0.10"] == ("PASS", "0.10 ± 0.05 (3 seeds)")


def test_the_best_val_point_counts_not_the_last():
    rows = results(trial("ar", bwd=0.05))
    later = rows.filter(pl.col("epoch") == 1).with_columns(
        epoch=pl.lit(2, pl.Int64),
        accuracy=pl.when((pl.col("split") == "val") & (pl.col("population") == "inject")).then(0.0).otherwise(0.5),
    )
    (line,) = [o for o in run_checks(pl.concat([rows, later])) if o.check == "ar k=0 backward <= 0.10"]
    assert (line.status, line.numbers) == ("PASS", "0.05 (1 seed)")


def test_a_condition_the_study_lacks_is_skipped_with_the_reason():
    found = outcomes(trial("ar", bwd=0.03))
    assert found["dllm (random) k=0 backward >= 0.60"] == ("SKIP", "no dllm (random) k=0 trials")
    assert status_of(found, "ar k>=9 forward") == "SKIP"


def test_the_paraphrased_ar_check_uses_the_largest_count_of_at_least_nine():
    found = outcomes(trial("ar", fwd=0.5, paraphrases=4), trial("ar", fwd=0.7, paraphrases=9), trial("ar", fwd=0.85, paraphrases=19))
    assert found["ar k=19 forward >= 0.80"] == ("PASS", "0.85 (1 seed)")
    assert status_of(outcomes(trial("ar", fwd=0.5, paraphrases=4)), "ar k>=9 forward") == "SKIP"


def test_permuted_backward_must_also_beat_same_order_at_the_same_count():
    found = outcomes(
        trial("ar", bwd=0.45, paraphrases=9, order="permuted"), trial("ar", bwd=0.5, paraphrases=9),
        trial("ar", bwd=0.0, paraphrases=4),
    )
    assert found["ar k=9 permuted backward >= 0.40"][0] == "PASS"
    assert found["ar k=9 permuted backward > same-order"] == ("FAIL", "0.45 (1 seed) vs 0.50 (1 seed)")
    alone = outcomes(trial("ar", bwd=0.45, paraphrases=9, order="permuted"))
    assert alone["ar k=9 permuted backward > same-order"] == ("SKIP", "no ar k=9 trials to compare with")


SWEEP = "masked k=0 mask_ratio sweep backward: 0 and 1 >= 0.20 below best of 0.25/0.5/0.75/random"


def sweep(backward: dict[str, float]) -> list[dict]:
    """Masked k=0 trials at each mask ratio (two seeds each) with the given backward accuracy."""
    return [trial("masked", mask_ratio=ratio, bwd=b, seed=s) for ratio, b in backward.items() for s in (0, 1)]


def test_the_mask_ratio_sweep_passes_when_both_extremes_fail_and_reports_the_row():
    found = outcomes(*sweep({"0": 0.1, "0.25": 0.5, "0.5": 0.7, "0.75": 0.6, "1": 0.45, "random": 0.65}))
    assert found[SWEEP] == ("PASS", "0: 0.10 ± 0.00, 0.25: 0.50 ± 0.00, 0.5: 0.70 ± 0.00, 0.75: 0.60 ± 0.00, random: 0.65 ± 0.00, 1: 0.45 ± 0.00 (2 seeds)")


def test_the_mask_ratio_sweep_fails_when_an_extreme_is_near_the_best_middle():
    found = outcomes(*sweep({"0": 0.1, "0.5": 0.7, "1": 0.55}))
    assert found[SWEEP] == ("FAIL", "0: 0.10 ± 0.00, 0.5: 0.70 ± 0.00, 1: 0.55 ± 0.00 (2 seeds)")


def test_the_mask_ratio_sweep_needs_both_extremes():
    assert outcomes(*sweep({"0": 0.1, "0.5": 0.7}))[SWEEP] == ("SKIP", "no masked k=0 trials at mask_ratio 1")


def test_replay_is_reported_with_retention_not_judged():
    found = outcomes(trial("masked", fwd=0.9, bwd=0.7, retention=0.2), trial("masked", fwd=0.8, bwd=0.6, retention=0.9, replay=0.5))
    assert found["replay 0 vs 0.5, masked (random) k=0"] == (
        "INFO", "fwd 0.90 → 0.80; bwd 0.70 → 0.60; retention 0.20 → 0.90 (1/1 seeds)"
    )
    assert found["base with vs without recovery chats"][0] == "SKIP"


def test_the_papers_random_token_control_is_ratio_one_and_the_fraction_variant_is_reported():
    found = outcomes(trial("random-token", mask_ratio="1", bwd=0.05), trial("random-token", bwd=0.66))
    assert found["random-token (1) k=0 backward <= 0.15"] == ("PASS", "0.05 (1 seed)")
    (line,) = [check for check in found if check.startswith("every token vs a random fraction corrupted, random-token")]
    assert found[line] == ("INFO", "fwd 0.90 → 0.90; bwd 0.05 → 0.66 (1/1 seeds)")


def test_each_dataset_gets_its_own_lines():
    rows = pl.concat([results(trial("ar", bwd=0.03)), results(trial("ar", bwd=0.4)).with_columns(dataset=pl.lit("bio"), trial_id=pl.lit("b"))])
    lines = {(o.scope, o.status) for o in run_checks(rows) if o.check == "ar k=0 backward <= 0.10"}
    assert lines == {("namedesc", "PASS"), ("bio", "FAIL")}


# ---- study directories -------------------------------------------------------------------


def write_study(path, frame: pl.DataFrame, toml: str = "") -> str:
    path.mkdir()
    frame.drop("recovery_chats").write_parquet(path / "results.parquet")
    (path / "study.toml").write_text(toml)
    return str(path)


def test_studies_merge_and_a_no_recovery_chats_base_is_the_recovery_control(tmp_path, capsys):
    main_study = write_study(tmp_path / "main", results(trial("masked", bwd=0.7), trial("ar", bwd=0.03)), "[trial]\nepochs = 60\n")
    control = write_study(tmp_path / "norecovery", results(trial("masked", bwd=0.5), recovery_chats=False), "[trial]\nepochs = 60\n[base]\nrecovery_chats = false\n")
    assert main([main_study, control]) == 0
    out = capsys.readouterr().out
    assert "PASS  namedesc  ar k=0 backward <= 0.10: 0.03 (1 seed)" in out
    assert "INFO  namedesc  base with vs without recovery chats, masked (random) k=0: fwd 0.90 → 0.90; bwd 0.70 → 0.50" in out


def test_a_copy_drilled_base_has_its_no_recovery_control_without_the_drills(tmp_path, capsys):
    drilled = write_study(tmp_path / "drilled", results(trial("masked", bwd=0.7)), "[base]\nrecovery_shuffles = 4\n")
    control = write_study(tmp_path / "norecovery", results(trial("masked", bwd=0.5), recovery_chats=False), "[base]\nrecovery_chats = false\n")
    assert main([drilled, control]) == 0
    assert "base with vs without recovery chats, masked (random) k=0: fwd 0.90 → 0.90; bwd 0.70 → 0.50" in capsys.readouterr().out


def test_bases_that_differ_in_copy_drills_alone_are_refused(tmp_path, capsys):
    drilled = write_study(tmp_path / "drilled", results(trial("masked")), "[base]\nrecovery_shuffles = 4\n")
    plain = write_study(tmp_path / "plain", results(trial("ar")))
    assert main([drilled, plain]) == 2
    assert "differ in [base] recovery_shuffles (4 vs 0)" in capsys.readouterr().err


def test_copy_drills_may_not_differ_between_two_bases_with_recovery_chats_whatever_comes_first(tmp_path, capsys):
    control = write_study(tmp_path / "norecovery", results(trial("masked"), recovery_chats=False), "[base]\nrecovery_chats = false\n")
    plain = write_study(tmp_path / "plain", results(trial("ar")))
    drilled = write_study(tmp_path / "drilled", results(trial("masked")), "[base]\nrecovery_shuffles = 4\n")
    assert main([control, plain, drilled]) == 2
    assert "differ in [base] recovery_shuffles (0 vs 4)" in capsys.readouterr().err


def test_a_trial_in_two_studies_counts_once(tmp_path):
    frame = results(trial("ar", bwd=0.03))
    merged = load_studies([tmp_path / name for name in ("a", "b") if write_study(tmp_path / name, frame)])
    assert merged.height == frame.height


def test_studies_run_with_other_settings_are_refused(tmp_path, capsys):
    a = write_study(tmp_path / "a", results(trial("ar")), "[trial]\nepochs = 60\n")
    b = write_study(tmp_path / "b", results(trial("masked")), "[trial]\nepochs = 100\n")
    assert main([a, b]) == 2
    assert "differ in [trial] epochs (60 vs 100)" in capsys.readouterr().err


def test_exit_code_and_json_report_a_failure(tmp_path, capsys):
    study = write_study(tmp_path / "s", results(trial("ar", bwd=0.3, seed=0), trial("ar", bwd=0.5, seed=1)))
    assert main([study, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (check,) = [c for c in report["checks"] if c["check"] == "ar k=0 backward <= 0.10"]
    assert report["passed"] is False
    assert check["status"] == "FAIL" and check["values"]["seeds"] == 2 and check["values"]["mean"] == pytest.approx(0.4)


def test_an_empty_study_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no results yet" in capsys.readouterr().err


def test_a_trial_the_status_file_shows_unfinished_is_left_out_with_a_note(tmp_path, capsys):
    frame = results(trial("ar", bwd=0.03, seed=0), trial("ar", bwd=0.5, seed=1))
    study = write_study(tmp_path / "s", frame)
    stopped = frame.filter(pl.col("seed") == 1)["trial_id"][0]
    status = {"trials": {t: {"status": "stopped" if t == stopped else "done"} for t in set(frame["trial_id"])}}
    (tmp_path / "s" / "status.json").write_text(json.dumps(status))
    assert main([study]) == 0
    captured = capsys.readouterr()
    assert "PASS  namedesc  ar k=0 backward <= 0.10: 0.03 (1 seed)" in captured.out
    assert f"1 unfinished trial(s) left out: {stopped}" in captured.err
