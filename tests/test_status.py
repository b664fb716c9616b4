"""The status file a study's driver writes and the snapshot other processes read back:
trial states, progress and who runs the study, from the study directory alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from maskft.ablate.status import STATUS, StatusFile, list_studies, read_status, study_snapshot


@pytest.fixture
def study(studies):
    """A three-trial study directory as the driver leaves it before any trial runs."""
    spec, store, status = studies.start("demo", methods=("ar", "masked", "dllm"))
    return spec, store, status, {t.method: t for t in spec.trials()}


def test_snapshot_shows_each_trials_status_and_numbers_while_the_driver_runs(study, studies):
    spec, store, status, trials = study
    ar, masked, dllm = trials["ar"], trials["masked"], trials["dllm"]
    for trial in (ar, masked):
        status.trial_started(trial.trial_id)
    for epoch, (fwd, bwd) in [(0, (0.0, 0.0)), (4, (0.8, 0.1))]:
        store.add_point(ar.trial_id, studies.rows(ar, epoch, fwd, bwd))
        status.trial_reported(ar.trial_id, studies.rows(ar, epoch, fwd, bwd))
    status.trial_finished(ar.trial_id, {})
    status.trial_progress(masked.trial_id, epoch=3, step=30, total_steps=100, loss=2.0)

    snap = study_snapshot(store.dir)

    assert snap.running and snap.driver == f"running (pid {os.getpid()})" and snap.driver_pid == os.getpid()
    states = {tid: (row.status, row.epoch, row.best_forward, row.best_backward) for tid, row in snap.state.trials.items()}
    assert states == {
        ar.trial_id: ("done", 4, 0.8, 0.1),
        masked.trial_id: ("running", 3, None, None),
        dllm.trial_id: ("pending", None, None, None),
    }
    assert snap.state.trials[masked.trial_id].step == 30 and snap.state.evaluation_points == 2
    assert snap.results.height == 8


def test_a_finished_study_reads_as_finished_and_a_failure_keeps_its_error(study):
    _, store, status, trials = study
    status.trial_started(trials["dllm"].trial_id)
    status.trial_failed(trials["dllm"].trial_id, "CUDA out of memory")
    store.add_failure(trials["dllm"].trial_id, "CUDA out of memory")
    status.study_finished({"interrupted": True})

    snap = study_snapshot(store.dir)

    assert not snap.running and snap.driver == "interrupted" and snap.driver_pid is None
    row = snap.state.trials[trials["dllm"].trial_id]
    assert (row.status, row.error) == ("failed", "CUDA out of memory")


def test_trials_of_a_driver_that_died_show_as_stopped(study):
    _, store, status, trials = study
    status.trial_started(trials["ar"].trial_id)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    data = read_status(store.dir)
    data["driver"]["pid"] = gone.pid
    (store.dir / STATUS).write_text(json.dumps(data))

    snap = study_snapshot(store.dir)

    assert not snap.running and snap.driver == f"stopped: its driver (pid {gone.pid}) is gone"
    assert snap.state.trials[trials["ar"].trial_id].status == "stopped"


def test_a_resuming_driver_keeps_finished_trials_and_stops_the_running_ones(study):
    _, store, status, trials = study
    status.trial_started(trials["ar"].trial_id)
    status.trial_finished(trials["ar"].trial_id, {})
    status.trial_started(trials["masked"].trial_id)

    StatusFile(store.dir)._write()  # what `--resume` starts with

    saved = read_status(store.dir)["trials"]
    assert saved[trials["ar"].trial_id]["status"] == "done"
    assert saved[trials["masked"].trial_id]["status"] == "stopped"


def test_a_study_without_status_file_reads_from_its_spec_and_trial_folders(study):
    spec, store, _, trials = study
    (store.dir / STATUS).unlink()
    finished = store.trial_dir(trials["ar"].trial_id)
    finished.mkdir()
    (finished / "summary.json").write_text(json.dumps({"stopped_early": False}))
    started = store.trial_dir(trials["masked"].trial_id)
    started.mkdir()
    (started / "config.json").write_text("{}")

    snap = study_snapshot(store.dir)

    assert snap.driver.startswith("unknown") and not snap.running
    assert {row.label: row.status for row in snap.state.trials.values()} == {
        "ar": "done", "masked(random)": "unfinished", "dllm(random)": "pending",
    }


def test_a_status_file_that_cannot_be_written_does_not_fail_the_study(study, caplog):
    _, store, status, trials = study
    status.path = store.dir / "missing-folder" / STATUS
    status.trial_started(trials["ar"].trial_id)  # must not raise
    assert "status file" in caplog.text


def test_list_studies_finds_study_folders_newest_first(tmp_path):
    for name, when in [("old", 1_000), ("new", 3_000), ("middle", 2_000)]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "study.toml").write_text("")
        os.utime(tmp_path / name / "study.toml", (when, when))
    (tmp_path / "not-a-study").mkdir()
    (tmp_path / "results.parquet").write_text("")

    assert [p.name for p in list_studies(tmp_path)] == ["new", "middle", "old"]
    assert list_studies(tmp_path / "nowhere") == []
