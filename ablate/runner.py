"""Run a study with Ray Tune: validate, build the base models once, schedule the trials.

Everything that can be wrong with the input is checked before anything is written or
trained. The driver then builds each base model the grid needs (trials only load them
from the shared cache), and Ray Tune runs one function trainable per trial. A trial
reports at every evaluation point; the driver (a Tune callback) merges the rows into the
study's results.parquet and tells the listener. Ray's experiment state lives in the study
directory, so `--resume` continues with Tuner.restore and never reruns a finished trial.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import polars as pl
import ray
import torch
from ray import tune

from maskft.ablate.events import Broadcast, StudyListener
from maskft.ablate.spec import StudySpec
from maskft.ablate.status import StatusFile, read_status
from maskft.ablate.store import StudyStore, check_study_dir
from maskft.datasets.registry import resolve_dataset
from maskft.datasets.schema import DataError
from maskft.trainers.base_stage import BaseConfig, BaseStageError, ensure_base, has_base_population
from maskft.trainers.evaluation import EvalConfig
from maskft.trainers.models import PRESETS
from maskft.trainers.trial import TrialConfig, run_trial

CONNECT_TIMEOUT_S = 5.0
PROGRESS_EVERY_S = 2.0  # training-progress reports per trial are throttled to this period
RAY_ENVIRONMENT = {
    "RAY_AUTH_MODE": "disabled",  # otherwise Ray writes ~/.ray/auth_token
    "TUNE_GLOBAL_CHECKPOINT_S": "0",  # experiment state saved on every change: exact resume after a crash
    "RAY_AIR_NEW_OUTPUT": "0",  # with verbose=0: no progress tables on stdout
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # a local Ray binds to loopback only
}


def run_study(spec: StudySpec, listener: StudyListener | None = None) -> dict:
    """Run (or resume) `spec` to the end; return the summary also sent to `study_finished`.

    Raises ValueError/DataError (one line) for bad input, before anything is written.
    Ctrl-C stops the trials, keeps every written result and returns with
    `summary["interrupted"]` set and `summary["resume"]` the command that continues.
    """
    listener = listener or StudyListener()
    started = time.monotonic()
    check_study_dir(spec)
    trials = spec.trials()
    datasets = _check_data(spec, trials)
    for key, value in RAY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    owns_ray = _connect(spec)
    try:
        _check_resources(spec)
        store = StudyStore(spec)
        listener = Broadcast([listener, StatusFile(store.dir)])  # status.json: what `maskft tui` watches
        listener.study_started(spec, trials)
        if spec.resume:
            _restore_finished(store, trials, listener)
        session = _Session(store, listener)
        try:
            refused = _build_bases(spec, trials, datasets, listener)
            runnable = []
            for trial in trials:  # a refused base fails its trials; the others go on
                error = refused.get((trial.dataset, trial.model, _base_kind(trial)))
                if error is None:
                    runnable.append(trial)
                else:
                    store.add_failure(trial.trial_id, error)
                    listener.trial_failed(trial.trial_id, error)
            grid = _fit(spec, runnable, store, session) if runnable else None
        except KeyboardInterrupt:
            grid = None
        summary = _summary(spec, trials, store, session, grid, time.monotonic() - started)
    finally:
        if owns_ray:
            ray.shutdown()
    listener.study_finished(summary)
    return summary


def _restore_finished(store: StudyStore, trials: list[TrialConfig], listener: StudyListener) -> None:
    """Tell the views which trials an earlier run finished (the status file says so; Ray's
    restore skips them silently), so a resumed study counts them done from the start."""
    statuses = read_status(store.dir).get("trials", {})
    for trial in trials:
        points = store.points.get(trial.trial_id)
        if points and statuses.get(trial.trial_id, {}).get("status") == "done":
            listener.trial_restored(trial.trial_id, pl.concat(points))


# ---- validation before anything starts ------------------------------------------------
def _check_data(spec: StudySpec, trials: list[TrialConfig]) -> dict[str, Any]:
    """Resolve each dataset once and check every trial's paraphrase count, replay and base
    population against it: what `prepare` would reject, without loading a model."""
    datasets = {name: resolve_dataset(name, seed=0, cache_dir=Path(spec.cache)) for name in spec.datasets}
    for trial in trials:
        data = datasets[trial.dataset]
        data.training_documents(trial.paraphrases, trial.order)
        if (trial.replay or trial.model in PRESETS) and not has_base_population(data):
            need = "--replay" if trial.replay else f"model preset {trial.model!r} (a base stage)"
            raise DataError(f"{need} needs a base population and dataset {data.name!r} has none; pass a checkpoint as --model")
    return datasets


def _connect(spec: StudySpec) -> bool:
    """Start a private local Ray or join `spec.address`; True when this call started Ray."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": spec.verbose}
    if spec.address == "local":
        os.environ.pop("RAY_ADDRESS", None)
        ray.init(address="local", include_dashboard=False, **quiet)
        return True
    _check_reachable(spec.address)
    try:
        ray.init(address=spec.address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"no Ray cluster reachable at --address {spec.address!r}: {message}") from None
    return True


def _check_reachable(address: str) -> None:
    """Fail in seconds, not after Ray's minute of retries, when HOST:PORT does not answer."""
    if address == "auto":
        return  # Ray itself says at once when no cluster runs on this machine
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as e:
        raise ValueError(f"no Ray cluster reachable at --address {address!r}: {e}") from None


def _check_resources(spec: StudySpec) -> None:
    available = ray.cluster_resources()
    for name, need in (("CPU", spec.cpus_per_trial), ("GPU", spec.gpus_per_trial)):
        have = available.get(name, 0)
        if need > have:
            raise ValueError(f"a trial asks for {need:g} {name}(s) but the Ray cluster has {have:g}")


# ---- the base stage, once, in the driver ----------------------------------------------
def _base_kind(trial: TrialConfig) -> str:
    return "dllm" if trial.diffusion else "ar"


class BaseProgress:
    """Base-stage progress lines for `stage`: each label at most every PROGRESS_EVERY_S, so
    step updates are throttled while every base-QA check (a label of its own) shows."""

    def __init__(self, stage: Callable[[str], None], dataset: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.stage, self.dataset, self.clock = stage, dataset, clock
        self.last: dict[str, float] = {}

    def __call__(self, label: str, state) -> None:
        now = self.clock()
        if label in self.last and now - self.last[label] < PROGRESS_EVERY_S:
            return
        self.last[label] = now
        self.stage(f"{label} on {self.dataset}: epoch {state.epoch}, step {state.step}/{state.total_steps}, loss {state.loss:.3f}")


def _build_bases(spec: StudySpec, trials: list[TrialConfig], datasets: dict, listener: StudyListener) -> dict:
    """Build every base model the grid needs; return {(dataset, model, kind): error} for
    those refused (base QA under the threshold), whose trials then fail without running."""
    refused = {}
    needed = {(t.dataset, t.model, _base_kind(t)) for t in trials if t.model in PRESETS}
    for dataset, model, kind in sorted(needed):
        listener.stage(f"base model: {kind} {model} on {dataset} (cached after the first build)")
        progress = BaseProgress(listener.stage, dataset)
        try:
            ensure_base(datasets[dataset], replace(spec.base, preset=model), kind, cache_dir=Path(spec.cache), progress=progress)
        except BaseStageError as error:
            refused[(dataset, model, kind)] = str(error)
            listener.stage(f"base model refused: {error}")
    return refused


# ---- Ray Tune ---------------------------------------------------------------------------
def _fit(spec: StudySpec, trials: list[TrialConfig], store: StudyStore, session: _Session):
    trainable = tune.with_resources(_trainable, {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial})
    _SESSIONS[str(store.dir)] = session
    try:
        if spec.resume and tune.Tuner.can_restore(str(store.ray_dir)):
            tuner = tune.Tuner.restore(str(store.ray_dir), trainable, resume_unfinished=True, restart_errored=True)
        else:
            param_space = {
                "trial": tune.grid_search([asdict(trial) for trial in trials]),
                "study_dir": str(store.dir),
                "cache_dir": spec.cache,
                "threads": spec.cpus_per_trial,
            }
            tuner = tune.Tuner(
                trainable,
                param_space=param_space,
                tune_config=tune.TuneConfig(
                    reuse_actors=True,
                    max_concurrent_trials=spec.max_concurrent or None,
                    trial_name_creator=_ray_trial_name,
                    trial_dirname_creator=_ray_trial_name,
                ),
                run_config=tune.RunConfig(
                    storage_path=str(store.dir),
                    name=store.ray_dir.name,
                    verbose=0,
                    callbacks=[_StudyCallback(str(store.dir))],
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            )
        return tuner.fit()
    finally:
        _SESSIONS.pop(str(store.dir), None)


def _trainable(config: dict) -> None:
    """One trial inside a Ray worker: run_trial, reporting every evaluation point (rows
    as Arrow IPC, so the driver needs no shared filesystem) with the trial folder as checkpoint."""
    trial = trial_from_dict(config["trial"])
    torch.set_num_threads(int(config["threads"]))
    out_dir = Path(config["study_dir"]) / "trials" / trial.trial_id
    last_progress = 0.0

    def on_event(kind: str, payload: Any) -> None:
        nonlocal last_progress
        if kind == "eval":
            metrics = {"kind": "eval", **_headline_metrics(payload), "rows": _encode_rows(payload)}
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(out_dir))
        elif kind == "step" and time.monotonic() - last_progress >= PROGRESS_EVERY_S:
            last_progress = time.monotonic()
            state = payload
            tune.report({"kind": "progress", "epoch": state.epoch, "step": state.step, "total_steps": state.total_steps, "loss": state.loss})

    summary = run_trial(trial, out_dir=out_dir, cache_dir=Path(config["cache_dir"]), on_event=on_event)
    tune.report({"kind": "done", "summary": json.dumps(summary)})


class _Session:
    """The driver-side state a running study's Tune callback forwards events to."""

    def __init__(self, store: StudyStore, listener: StudyListener) -> None:
        self.store = store
        self.listener = listener
        self.started: list[str] = []  # trials (re)started by this run: a resume should list no finished one

    def on_start(self, trial_id: str) -> None:
        self.started.append(trial_id)
        self.store.restart(trial_id)
        self.listener.trial_started(trial_id)

    def on_result(self, trial_id: str, result: dict) -> None:
        if result.get("kind") == "eval":
            rows = _decode_rows(result["rows"])
            self.store.add_point(trial_id, rows)
            self.listener.trial_reported(trial_id, rows)
        elif result.get("kind") == "progress":
            self.listener.trial_progress(trial_id, result["epoch"], result["step"], result["total_steps"], result["loss"])

    def on_complete(self, trial_id: str, last_result: dict) -> None:
        self.listener.trial_finished(trial_id, json.loads(last_result.get("summary") or "{}"))

    def on_error(self, trial_id: str, error: str) -> None:
        self.store.add_failure(trial_id, error)
        self.listener.trial_failed(trial_id, error)


_SESSIONS: dict[str, _Session] = {}


class _StudyCallback(tune.Callback):
    """Forwards Tune's trial events to the study's `_Session`.

    Tune pickles RunConfig callbacks into its experiment state and restores *those* on
    Tuner.restore, so this object carries only the study directory and finds the live
    session (store, listener) of the current run in `_SESSIONS`.
    """

    def __init__(self, study_key: str) -> None:
        self.study_key = study_key

    def _session(self) -> _Session | None:
        return _SESSIONS.get(self.study_key)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        if session := self._session():
            session.on_start(_trial_id(trial))

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if session := self._session():
            session.on_result(_trial_id(trial), result)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        if session := self._session():
            session.on_complete(_trial_id(trial), trial.last_result or {})

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        if session := self._session():
            session.on_error(_trial_id(trial), _error_line(trial))


# ---- small helpers ------------------------------------------------------------------------
def trial_from_dict(values: dict) -> TrialConfig:
    """Inverse of `dataclasses.asdict(trial)` (how trials travel through Ray's param space)."""
    return TrialConfig(**{**values, "base": BaseConfig(**values["base"]), "eval": EvalConfig(**values["eval"])})


def _trial_id(trial) -> str:
    return trial_from_dict(trial.config["trial"]).trial_id


def _ray_trial_name(trial) -> str:
    return _trial_id(trial)


def _error_line(trial) -> str:
    error = trial.get_pickled_error()
    error = getattr(error, "cause", None) or error
    if error is not None:
        text = f"{type(error).__name__}: {error}"
    else:
        lines = [line for line in (trial.get_error() or "").splitlines() if line.strip()]
        text = lines[-1] if lines else "trial failed"
    return text.strip().splitlines()[0]


def _headline_metrics(rows: pl.DataFrame) -> dict:
    """Small scalars for Tune's own logs: epoch and inject-test accuracy per direction."""
    test = rows.filter((pl.col("population") == "inject") & (pl.col("split") == "test"))
    metrics = {"epoch": int(rows["epoch"][0]), "step": int(rows["step"][0])}
    for direction in ("forward", "backward"):
        part = test.filter(pl.col("direction") == direction)
        metrics[direction] = float((part["accuracy"] * part["n"]).sum() / part["n"].sum()) if part.height else None
    return metrics


def _encode_rows(rows: pl.DataFrame) -> str:
    buffer = io.BytesIO()
    rows.write_ipc(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def _decode_rows(text: str) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(base64.b64decode(text)))


def _summary(spec: StudySpec, trials, store: StudyStore, session: _Session, grid, wall_s: float) -> dict:
    done = set()
    if grid is not None:
        for result in grid:
            if result.error is None and (result.metrics or {}).get("kind") == "done":
                done.add(trial_from_dict(result.config["trial"]).trial_id)
    failures = {tid: error for tid, error in store.failures.items() if tid not in done}
    unfinished = len(trials) - len(done) - len(failures)
    return {
        "name": spec.name,
        "study_dir": str(store.dir),
        "trials": len(trials),
        "finished": len(done),
        "failed": len(failures),
        "failures": failures,
        "unfinished": unfinished,
        "interrupted": unfinished > 0,
        "started_this_run": list(session.started),
        "wall_s": round(wall_s, 1),
        "results": str(store.dir / "results.parquet"),
        "resume": f"maskft ablate --storage {Path(spec.storage).expanduser().resolve()} --name {spec.name} --resume",
    }
