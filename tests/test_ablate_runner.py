"""A real Ray Tune study (the --quick preset, 2 trials): results, refusal to overwrite, resume.

One study is run per module and inspected by several tests; the crash test runs a second
one in its own process session and kills it with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from maskft.ablate.events import StudyListener
from maskft.ablate.runner import run_study
from maskft.ablate.spec import StudySpec
from maskft.ablate.status import read_status, study_snapshot
from maskft.ablate.store import load_results
from maskft.app.tui import ablate_argv, launch, log_path
from maskft.trainers.results import RESULT_SCHEMA, headline


class Recorder(StudyListener):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def trial_started(self, trial_id):
        self.events.append(("started", trial_id))

    def trial_reported(self, trial_id, rows):
        self.events.append(("reported", trial_id, rows.height))

    def trial_finished(self, trial_id, summary):
        self.events.append(("finished", trial_id, summary["trial_id"]))

    def trial_restored(self, trial_id, rows):
        self.events.append(("restored", trial_id, rows.height))


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("MASKFT_CACHE")
    os.environ["MASKFT_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("MASKFT_CACHE")
    else:
        os.environ["MASKFT_CACHE"] = previous


@pytest.fixture(scope="module")
def study(tmp_path_factory, cache):
    storage = tmp_path_factory.mktemp("runs")
    spec = StudySpec.from_cli(quick=True, storage=str(storage), name="quick")
    recorder = Recorder()
    summary = run_study(spec, recorder)
    return spec, summary, recorder


def test_quick_study_finishes_every_trial(study):
    spec, summary, recorder = study
    trial_ids = {t.trial_id for t in spec.trials()}
    assert summary["finished"] == 2 and summary["failed"] == 0 and not summary["interrupted"]
    assert {e[1] for e in recorder.events if e[0] == "finished"} == trial_ids
    assert all((spec.study_dir / "trials" / tid / "summary.json").is_file() for tid in trial_ids)


def test_results_hold_every_evaluation_point_in_the_schema(study):
    spec, _, recorder = study
    results = load_results(spec.study_dir)
    assert dict(results.schema) == RESULT_SCHEMA
    points = results.select("trial_id", "epoch").unique()
    reports = [e for e in recorder.events if e[0] == "reported"]
    assert points.height == len(reports) == pq.ParquetFile(spec.study_dir / "results.parquet").num_row_groups
    assert results.height == sum(e[2] for e in reports)
    assert set(results["direction"]) == {"forward", "backward"}
    assert results.filter(pl.col("method") == "ar")["mask_ratio"].is_null().all()


def test_results_equal_the_union_of_the_trial_files(study):
    spec, _, _ = study
    trial_files = pl.concat([pl.read_parquet(p) for p in sorted((spec.study_dir / "trials").glob("*/results.parquet"))])
    key = ["trial_id", "epoch", "population", "split", "direction", "group"]
    assert load_results(spec.study_dir).sort(key).equals(trial_files.sort(key), null_equal=True)


def test_study_toml_is_the_resolved_spec(study):
    spec, _, _ = study
    assert StudySpec.from_toml(spec.study_dir / "study.toml").trials() == spec.trials()


def test_the_status_file_shows_the_finished_study_as_the_tui_reads_it(study):
    spec, summary, _ = study
    snap = study_snapshot(spec.study_dir)
    assert snap.driver == "finished" and not snap.running
    assert {row.status for row in snap.state.trials.values()} == {"done"}
    best = headline(load_results(spec.study_dir))
    assert {t: row.best_forward for t, row in snap.state.trials.items()} == dict(zip(best["trial_id"], best["best_forward"]))


def test_existing_name_without_resume_is_refused_and_nothing_changes(study):
    spec, _, _ = study
    before = {p: p.stat().st_mtime_ns for p in spec.study_dir.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="exists .*--resume"):
        run_study(StudySpec.from_cli(quick=True, storage=spec.storage, name=spec.name))
    assert {p: p.stat().st_mtime_ns for p in spec.study_dir.rglob("*") if p.is_file()} == before


def test_resuming_a_finished_study_reruns_nothing(study):
    spec, _, _ = study
    results = spec.study_dir / "results.parquet"
    before = results.stat().st_mtime_ns
    recorder = Recorder()
    summary = run_study(StudySpec.from_cli(storage=spec.storage, name=spec.name, resume=True), recorder)
    assert summary["started_this_run"] == [] and summary["finished"] == 2
    assert results.stat().st_mtime_ns == before
    per_trial = load_results(spec.study_dir).group_by("trial_id").len()
    assert sorted(e[1:] for e in recorder.events) == sorted(per_trial.rows())  # both shown done, with all their rows
    assert all(e[0] == "restored" for e in recorder.events)


CRASHING_STUDY = """
import sys
from maskft.ablate.runner import run_study
from maskft.ablate.spec import StudySpec
run_study(StudySpec.from_cli(quick=True, storage=sys.argv[1], name="crash", max_concurrent=1))
"""


def test_kill_9_then_resume_does_not_rerun_the_finished_trial(tmp_path, cache, study):
    """One trial at a time; SIGKILL the whole study once the second trial has reported."""
    driver = subprocess.Popen(
        [sys.executable, "-c", CRASHING_STUDY, str(tmp_path)], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    study_dir = tmp_path / "crash"
    deadline = time.monotonic() + 120
    try:
        while load_results(study_dir)["trial_id"].n_unique() < 2:
            assert driver.poll() is None and time.monotonic() < deadline, "study ended or stalled before the crash point"
            time.sleep(0.2)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finished = [p.parent.name for p in (study_dir / "trials").glob("*/summary.json")]
    assert len(finished) == 1
    kept = (study_dir / "trials" / finished[0] / "summary.json").read_text()
    kept_rows = load_results(study_dir).filter(pl.col("trial_id") == finished[0])

    summary = run_study(StudySpec.from_cli(storage=str(tmp_path), name="crash", resume=True))

    assert summary["finished"] == 2 and finished[0] not in summary["started_this_run"]
    assert len(summary["started_this_run"]) == 1
    assert (study_dir / "trials" / finished[0] / "summary.json").read_text() == kept
    again = load_results(study_dir)
    assert again.filter(pl.col("trial_id") == finished[0]).equals(kept_rows, null_equal=True)
    assert json.loads((study_dir / "trials" / summary["started_this_run"][0] / "summary.json").read_text())


def test_a_refused_base_fails_its_trials_and_the_study_reports_them(tmp_path, cache):
    from dataclasses import replace

    quick = StudySpec.from_cli(quick=True, storage=str(tmp_path), name="strict")
    spec = replace(quick, base=replace(quick.base, threshold=1.0))  # no micro base reaches 1.0 in one epoch
    summary = run_study(spec, Recorder())
    assert summary["failed"] == 2 and summary["finished"] == 0 and not summary["interrupted"]
    failures = json.loads((spec.study_dir / "failures.json").read_text())
    assert set(failures) == {t.trial_id for t in spec.trials()}
    assert all("< threshold 1.00" in error for error in failures.values())


def wait_for(condition, process, seconds=120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, "the study ended or stalled first"
        time.sleep(0.2)


def test_a_study_the_tui_launches_stops_with_its_results_kept_and_continues_to_the_end(tmp_path, cache, study):
    """What `n`, `x` and `c` do in `maskft tui`: the real command, a Ctrl-C, a resume."""
    _, argv = ablate_argv(tmp_path, {"name": "tui"}, quick=True)
    study_dir = tmp_path / "tui"
    driver = launch(argv, log_path(tmp_path, "tui"))
    try:
        wait_for(lambda: load_results(study_dir).height > 0, driver)
        os.kill(read_status(study_dir)["driver"]["pid"], signal.SIGINT)
        assert driver.wait(timeout=120) == 130
    finally:
        driver.kill()
    stopped = study_snapshot(study_dir)
    assert stopped.driver == "interrupted" and "stopped" in {row.status for row in stopped.state.trials.values()}
    kept = load_results(study_dir).select("trial_id", "epoch").unique()
    assert kept.height >= 1 and "--resume" in log_path(tmp_path, "tui").read_text()

    again = launch(["ablate", "--storage", str(tmp_path), "--name", "tui", "--resume"], log_path(tmp_path, "tui"))
    assert again.wait(timeout=300) == 0
    done = study_snapshot(study_dir)
    assert done.driver == "finished" and {row.status for row in done.state.trials.values()} == {"done"}
