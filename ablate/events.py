"""How a study's progress leaves the engine: one listener interface, no printing.

The runner calls these methods from the driver process (never from Ray workers), in
order: `study_started`, then per trial `trial_started`, any number of
`trial_progress`/`trial_reported`, and one of `trial_finished`/`trial_failed`, and
finally `study_finished`. The rich live view and the status file (which `maskft tui`
reads) implement the subset they need; every method defaults to doing nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from maskft.trainers.trial import TrialConfig


def never_raises(what: str) -> Callable:
    """Decorator for a listener's methods: each runs under the listener's `self._lock`
    (Ray callbacks and display threads may call at once) and an error is logged, never
    raised into the engine: a study must go on whatever its display or status file does."""
    log = logging.getLogger(__name__)

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                with self._lock:
                    method(self, *args, **kwargs)
            except Exception:  # noqa: BLE001
                log.warning("%s: %s failed", what, method.__name__, exc_info=True)

        return wrapper

    return decorate


class StudyListener:
    """Receives a study's progress. Subclass and override what you need."""

    def study_started(self, spec: Any, trials: list[TrialConfig]) -> None:
        """The grid is validated and about to run (`spec` is the resolved StudySpec).
        On resume, `trials` is the whole grid, finished trials included."""

    def stage(self, text: str) -> None:
        """Driver-side setup before trials start (base models being built, Ray starting)."""

    def trial_restored(self, trial_id: str, rows: pl.DataFrame) -> None:
        """On resume, right after `study_started`: a trial an earlier run finished, with its
        result rows. Nothing reruns it; views count it done from the start."""

    def trial_started(self, trial_id: str) -> None:
        """A trial was scheduled on a worker (again, after a resume)."""

    def trial_progress(self, trial_id: str, epoch: int, step: int, total_steps: int, loss: float) -> None:
        """Training progress of a running trial; throttled, may never arrive."""

    def trial_reported(self, trial_id: str, rows: pl.DataFrame) -> None:
        """One evaluation point: result rows in RESULT_SCHEMA (trainers/results.py)."""

    def trial_finished(self, trial_id: str, summary: dict) -> None:
        """The trial completed; `summary` is run_trial's summary dict."""

    def trial_failed(self, trial_id: str, error: str) -> None:
        """The trial raised; `error` is one line. The other trials go on."""

    def study_finished(self, summary: dict) -> None:
        """All trials are done, failed or the study was interrupted (`summary["interrupted"]`)."""


class Broadcast(StudyListener):
    """Fans every event out to several listeners, in order."""

    def __init__(self, listeners: Iterable[StudyListener | None]) -> None:
        self.listeners = [listener for listener in listeners if listener is not None]

    def _emit(self, event: str, *args: Any) -> None:
        for listener in self.listeners:
            getattr(listener, event)(*args)

    def study_started(self, spec, trials):
        self._emit("study_started", spec, trials)

    def stage(self, text):
        self._emit("stage", text)

    def trial_restored(self, trial_id, rows):
        self._emit("trial_restored", trial_id, rows)

    def trial_started(self, trial_id):
        self._emit("trial_started", trial_id)

    def trial_progress(self, trial_id, epoch, step, total_steps, loss):
        self._emit("trial_progress", trial_id, epoch, step, total_steps, loss)

    def trial_reported(self, trial_id, rows):
        self._emit("trial_reported", trial_id, rows)

    def trial_finished(self, trial_id, summary):
        self._emit("trial_finished", trial_id, summary)

    def trial_failed(self, trial_id, error):
        self._emit("trial_failed", trial_id, error)

    def study_finished(self, summary):
        self._emit("study_finished", summary)
