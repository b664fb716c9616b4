"""A running study as other processes see it: the driver's status file and its reader.

The driver's `LiveView` learns of a study from events in its own process. `maskft tui` (or
a second terminal, or a look at last week's study) has only the study directory, so the
driver also writes the events' gist into `status.json`: who runs the study (pid, host,
heartbeat), each trial's status and training progress, the current stage.
`study_snapshot` reads that file with results.parquet and failures.json back into the
same `StudyState` the live table renders: one view of a study, wherever it is watched.

Studies written before the status file existed still read: their trials come from
study.toml and a trial's own folder says whether it finished.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from maskft.ablate.events import StudyListener, never_raises
from maskft.ablate.live import StudyState, trial_labels
from maskft.ablate.spec import StudySpec
from maskft.ablate.store import SPEC, load_failures, load_results

STATUS = "status.json"
WRITE_EVERY_S = 1.0  # progress and stage lines are rewritten at most this often; state changes at once


def read_status(study_dir: str | Path) -> dict:
    """The status file's content; {} when there is none (or it cannot be read)."""
    try:
        return json.loads((Path(study_dir) / STATUS).read_text())
    except (OSError, ValueError):
        return {}


def unfinished_trials(study_dir: str | Path) -> dict[str, str]:
    """Trials the status file shows as not done (id -> stopped, failed, running, pending):
    their best point so far is not their result. Empty for studies without a status file."""
    trials = read_status(study_dir).get("trials", {})
    return {trial_id: trial.get("status", "?") for trial_id, trial in trials.items() if trial.get("status") != "done"}


_safe = never_raises("status file")


class StatusFile(StudyListener):
    """The driver's side: rewrites STUDY_DIR/status.json (atomically) as events arrive."""

    def __init__(self, study_dir: str | Path, clock=time.time) -> None:
        self.path = Path(study_dir) / STATUS
        self.clock = clock
        self._lock = threading.RLock()
        self._written = float("-inf")
        self.status = read_status(study_dir)
        now = clock()
        self.status["driver"] = {"pid": os.getpid(), "host": socket.gethostname(), "started": now, "updated": now,
                                 "finished": None, "interrupted": None}
        self.status.setdefault("labels", {})
        self.status["stage"] = ""
        trials = self.status.setdefault("trials", {})
        for trial in trials.values():  # a new driver: nothing of an earlier run is still training
            if trial.get("status") == "running":
                trial["status"] = "stopped"

    def _trial(self, trial_id: str) -> dict:
        return self.status["trials"].setdefault(trial_id, {"status": "pending"})

    def _write(self, force: bool = True) -> None:
        now = self.clock()
        if not force and now - self._written < WRITE_EVERY_S:
            return
        self._written = self.status["driver"]["updated"] = now
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.status, indent=1))
        os.replace(tmp, self.path)

    @_safe
    def study_started(self, spec, trials) -> None:
        self.status["labels"] = trial_labels(trials)
        for trial in trials:
            self._trial(trial.trial_id)
        self._write()

    @_safe
    def stage(self, text: str) -> None:
        self.status["stage"] = text
        self._write(force=False)

    @_safe
    def trial_started(self, trial_id: str) -> None:
        self.status["trials"][trial_id] = {"status": "running", "started": self.clock()}
        self.status["stage"] = ""
        self._write()

    @_safe
    def trial_progress(self, trial_id: str, epoch: int, step: int, total_steps: int, loss: float) -> None:
        self._trial(trial_id).update(epoch=epoch, step=step, total_steps=total_steps, loss=loss)
        self._write(force=False)

    @_safe
    def trial_reported(self, trial_id: str, rows: pl.DataFrame) -> None:
        self._trial(trial_id)["epoch"] = int(rows["epoch"].max())
        self._write()

    @_safe
    def trial_finished(self, trial_id: str, summary: dict) -> None:
        self._trial(trial_id).update(status="done", finished=self.clock())
        self._write()

    @_safe
    def trial_failed(self, trial_id: str, error: str) -> None:
        self._trial(trial_id).update(status="failed", finished=self.clock(), error=error)
        self._write()

    @_safe
    def study_finished(self, summary: dict) -> None:
        for trial in self.status["trials"].values():
            if trial.get("status") == "running":
                trial["status"] = "stopped"
        self.status["driver"].update(finished=self.clock(), interrupted=bool(summary.get("interrupted")))
        self.status["stage"] = ""
        self._write()


# ---- the reader's side --------------------------------------------------------------------


@dataclass
class Snapshot:
    """A study directory read at one moment: the live table's state and who runs it."""

    study_dir: Path
    state: StudyState
    driver: str  # "running (pid N)", "running on HOST (...)", "finished", "interrupted", "stopped: ...", "unknown ..."
    running: bool
    results: pl.DataFrame  # every row written so far (trainers/results.py schema)
    as_of: float  # the moment the state describes: now, or when the driver finished
    driver_pid: int | None = None  # the driver's pid when it runs on this machine
    error: str | None = None  # why study.toml could not be read, if it could not


def list_studies(storage: str | Path) -> list[Path]:
    """The study directories (those with a study.toml) under `storage`, newest first."""
    root = Path(storage)
    if not root.is_dir():
        return []
    studies = [d for d in root.iterdir() if (d / SPEC).is_file()]
    return sorted(studies, key=lambda d: (-last_change(d), d.name))


def last_change(study_dir: Path) -> float:
    """The newest modification time among the files a driver rewrites: a cheap change signal."""
    times = [(Path(study_dir) / name).stat().st_mtime for name in (SPEC, STATUS, "results.parquet", "failures.json")
             if (Path(study_dir) / name).is_file()]
    return max(times, default=0.0)


def driver_state(status: dict, host: str | None = None) -> tuple[str, bool, int | None]:
    """(words, running, local pid) for the study's driver, as far as this machine can tell."""
    driver = status.get("driver")
    if not driver:
        return "unknown (no status file: a study from an older maskft)", False, None
    if driver.get("finished") is not None:
        return ("interrupted" if driver.get("interrupted") else "finished"), False, None
    pid, where = int(driver["pid"]), driver.get("host")
    if where != (host or socket.gethostname()):
        age = time.time() - float(driver.get("updated") or 0)
        return f"running on {where} (pid {pid}; last heard {age:.0f}s ago)", True, None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"stopped: its driver (pid {pid}) is gone", False, None
    except PermissionError:
        pass
    return f"running (pid {pid})", True, pid


def study_snapshot(study_dir: str | Path, now: float | None = None) -> Snapshot:
    """Everything the TUI shows of one study, from its files only."""
    study_dir = Path(study_dir)
    now = time.time() if now is None else now
    status = read_status(study_dir)
    driver, running, pid = driver_state(status)
    error = None
    labels = status.get("labels") or {}
    if not labels:
        try:
            labels = trial_labels(StudySpec.from_toml(study_dir / SPEC).trials())
        except (ValueError, OSError) as e:  # e.g. a dataset directory since deleted
            error = f"{study_dir / SPEC}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
    state = StudyState()
    state.on_study_started(f"study {study_dir.name}", labels, (status.get("driver") or {}).get("started"))
    state.stage = status.get("stage", "") if running else ""

    results = load_results(study_dir)
    for (trial_id,), rows in results.sort("epoch").group_by("trial_id", maintain_order=True):
        state.on_reported(trial_id, rows)
    state.evaluation_points = results.select("trial_id", "epoch").unique().height

    for trial_id, trial in status.get("trials", {}).items():
        row = state.trial(trial_id)
        row.status = trial.get("status", row.status)
        if row.status == "running" and not running:
            row.status = "stopped"
        row.started_at, row.finished_at, row.error = trial.get("started"), trial.get("finished"), trial.get("error")
        if trial.get("total_steps"):
            row.epoch, row.step, row.total_steps = max(row.epoch or 0, trial["epoch"]), trial["step"], trial["total_steps"]
    if not status:
        for trial_id, row in state.trials.items():
            row.status = _status_from_trial_dir(study_dir / "trials" / trial_id)
    for trial_id, message in load_failures(study_dir).items():
        state.on_failed(trial_id, message, state.trial(trial_id).finished_at or now)
    as_of = (status.get("driver") or {}).get("finished") or now
    return Snapshot(study_dir, state, driver, running, results, as_of, pid, error)


def _status_from_trial_dir(trial_dir: Path) -> str:
    """Without a status file nobody says whether a started trial still trains: "unfinished"."""
    summary = trial_dir / "summary.json"
    if summary.is_file():
        try:
            return "stopped" if json.loads(summary.read_text()).get("stopped_early") else "done"
        except ValueError:
            return "stopped"
    return "unfinished" if (trial_dir / "config.json").is_file() else "pending"
