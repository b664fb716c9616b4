"""The headless live view of a running study: a rich table in a terminal, plain lines in logs.

`StudyState` holds what the view shows and is updated by the listener events;
`render(state, now)` and `plain_line(...)` are pure functions of it, so the view is
tested by rendering hand-made states. `LiveView` is the `StudyListener` that wires them
to a console: thread-safe (Ray callbacks may arrive on another thread) and never
raising into the engine — a display problem must not fail a study.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from maskft.ablate.events import StudyListener, never_raises
from maskft.trainers.results import accuracy_curves
from maskft.trainers.results import headline

log = logging.getLogger(__name__)

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
STATUS_STYLE = {"pending": "dim", "running": "yellow", "done": "green", "failed": "bold red"}
LABEL_AXES = ("dataset", "method", "paraphrases", "order", "replay", "model", "seed")


def sparkline(values: list[float | None]) -> str:
    """Accuracy on an absolute 0–1 scale (so rows compare), one character per point."""
    return "".join(" " if v is None else SPARK_LEVELS[min(7, max(0, int(v * 7 + 0.5)))] for v in values)


def trial_labels(trials: list[Any]) -> dict[str, str]:
    """Short row names: the method (and mask ratio) plus the axes that vary in this grid."""
    varying = [a for a in LABEL_AXES[2:] + LABEL_AXES[:1] if len({getattr(t, a) for t in trials}) > 1]
    formats = {"dataset": "{}", "paraphrases": "k={}", "order": "{}", "replay": "replay={:g}", "model": "{}", "seed": "s{}"}
    labels = {}
    for t in trials:
        method = t.method + (f"({t.mask_ratio})" if t.mask_ratio is not None else "")
        labels[t.trial_id] = " ".join([method, *[formats[a].format(getattr(t, a)) for a in varying]])
    return labels


@dataclass
class TrialView:
    """One row of the live table."""

    trial_id: str
    label: str
    status: str = "pending"
    epoch: int | None = None
    step: int = 0
    total_steps: int = 0
    latest_forward: float | None = None
    latest_backward: float | None = None
    best_forward: float | None = None
    best_backward: float | None = None
    retention: float | None = None
    curve: list[float | None] = field(default_factory=list)  # total test accuracy per evaluation point
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    rows: list[pl.DataFrame] = field(default_factory=list, repr=False)


@dataclass
class StudyState:
    """Everything the live view shows; updated only through the `on_*` methods."""

    title: str = "study"
    trials: dict[str, TrialView] = field(default_factory=dict)
    started_at: float | None = None
    evaluation_points: int = 0
    stage: str = ""

    def trial(self, trial_id: str) -> TrialView:
        return self.trials.setdefault(trial_id, TrialView(trial_id, trial_id))

    def on_study_started(self, title: str, labels: dict[str, str], now: float) -> None:
        self.title, self.started_at = title, now
        for trial_id, label in labels.items():
            self.trials.setdefault(trial_id, TrialView(trial_id, label)).label = label

    def on_started(self, trial_id: str, now: float) -> None:
        row = self.trial(trial_id)
        row.status, row.started_at, row.finished_at, row.error = "running", now, None, None

    def on_progress(self, trial_id: str, epoch: int, step: int, total_steps: int) -> None:
        row = self.trial(trial_id)
        row.status, row.epoch, row.step, row.total_steps = "running", epoch, step, total_steps

    def on_reported(self, trial_id: str, rows: pl.DataFrame) -> None:
        """Recompute the row's numbers from all its points, with the one best-point rule."""
        row = self.trial(trial_id)
        row.status = "running" if row.status == "pending" else row.status
        row.rows.append(rows)
        self.evaluation_points += 1
        results = pl.concat(row.rows)
        row.epoch = int(results["epoch"].max())
        curve = accuracy_curves(results)
        row.curve = curve["total"].to_list()
        if curve.height:
            row.latest_forward, row.latest_backward = curve.row(-1, named=True)["forward"], curve.row(-1, named=True)["backward"]
        best = headline(results)
        if best.height:
            row.best_forward, row.best_backward = best["best_forward"][0], best["best_backward"][0]
        base = accuracy_curves(results, population="base", split=None)
        row.retention = base["total"][-1] if base.height else None

    def on_restored(self, trial_id: str, rows: pl.DataFrame) -> None:
        """A trial finished by an earlier run: done, with its numbers, and no pace for the ETA."""
        self.on_reported(trial_id, rows)
        self.trial(trial_id).status = "done"

    def on_finished(self, trial_id: str, now: float) -> None:
        row = self.trial(trial_id)
        row.status, row.finished_at = "done", now

    def on_failed(self, trial_id: str, error: str, now: float) -> None:
        row = self.trial(trial_id)
        row.status, row.finished_at, row.error = "failed", now, error

    def counts(self) -> Counter:
        return Counter(t.status for t in self.trials.values())

    def eta_s(self, now: float) -> float | None:
        """Remaining time, spread over the trials running now (the concurrency achieved).

        A running trial projects its own pace (elapsed per step) over its remaining steps,
        so the estimate is there before any trial finishes and a slow method's trials are
        not timed by a fast one's; a pending trial, or one without a step yet, costs the
        mean full duration of the trials seen so far. None until one trial has a pace.
        """
        rows = list(self.trials.values())
        finished = [t.finished_at - t.started_at for t in rows if t.status == "done" and t.started_at is not None]
        running = [t for t in rows if t.status == "running"]
        elapsed = {t.trial_id: now - t.started_at for t in running if t.started_at is not None}
        projected = {
            t.trial_id: elapsed[t.trial_id] * t.total_steps / t.step
            for t in running if elapsed.get(t.trial_id, 0.0) > 0 and t.step > 0 and t.total_steps > 0
        }
        totals = finished + list(projected.values())
        if not totals:
            return None
        mean = sum(totals) / len(totals)
        pending = sum(t.status == "pending" for t in rows)
        left = pending * mean + sum(max(projected.get(t.trial_id, mean) - elapsed.get(t.trial_id, 0.0), 0.0) for t in running)
        return left / max(1, len(running))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _acc(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def progress_line(state: StudyState, now: float) -> str:
    counts = state.counts()
    elapsed = None if state.started_at is None else now - state.started_at
    return (
        f"{counts['done']}/{len(state.trials)} done · {counts['failed']} failed · {counts['running']} running · "
        f"{state.evaluation_points} evaluation points · elapsed {_duration(elapsed)} · ETA {_duration(state.eta_s(now))}"
    )


def render(state: StudyState, now: float) -> Group:
    """The live table: one row per trial, then the overall progress and any errors."""
    table = Table(title=state.title, title_justify="left", expand=False, show_edge=False, pad_edge=False)
    for name, justify in [("condition", "left"), ("status", "left"), ("epoch", "right"), ("fwd", "right"),
                          ("bwd", "right"), ("best fwd", "right"), ("best bwd", "right"), ("retention", "right"),
                          ("curve", "left")]:
        table.add_column(name, justify=justify, no_wrap=True)
    for row in state.trials.values():
        epoch = "" if row.epoch is None else str(row.epoch)
        if row.status == "running" and row.total_steps:
            epoch += f" ({100 * row.step // row.total_steps}%)"
        table.add_row(
            row.label, Text(row.status, style=STATUS_STYLE.get(row.status, "")), epoch,
            _acc(row.latest_forward), _acc(row.latest_backward), _acc(row.best_forward), _acc(row.best_backward),
            _acc(row.retention), sparkline(row.curve),
        )
    parts: list[Any] = [table, Text(progress_line(state, now))]
    if state.stage:
        parts.append(Text(state.stage, style="dim"))
    parts += [Text(f"✗ {t.label}: {t.error}", style="red") for t in state.trials.values() if t.status == "failed"]
    return Group(*parts)


def plain_line(state: StudyState, trial_id: str, event: str, now: float) -> str:
    """One log line for a trial event, prefixed with the overall progress."""
    row = state.trial(trial_id)
    counts = state.counts()
    prefix = f"[{counts['done']}/{len(state.trials)} done, {counts['failed']} failed, ETA {_duration(state.eta_s(now))}] {row.label}"
    if event == "reported":
        detail = (
            f"epoch {row.epoch}: fwd {_acc(row.latest_forward)} bwd {_acc(row.latest_backward)} · "
            f"best {_acc(row.best_forward)}/{_acc(row.best_backward)} · retention {_acc(row.retention)}"
        )
    elif event == "progress":
        detail = f"epoch {row.epoch}, step {row.step}/{row.total_steps}"
    elif event == "restored":
        detail = f"finished earlier · best fwd {_acc(row.best_forward)} bwd {_acc(row.best_backward)}"
    elif event == "finished":
        took = None if row.started_at is None else (row.finished_at or now) - row.started_at
        detail = f"done in {_duration(took)} · best fwd {_acc(row.best_forward)} bwd {_acc(row.best_backward)}"
    elif event == "failed":
        detail = f"FAILED: {row.error}"
    else:
        detail = event
    return f"{prefix}: {detail}"


_safe = never_raises("live view")


class LiveView(StudyListener):
    """Shows a study as it runs: a rich `Live` table on a terminal, else plain lines (one per
    trial event, and a progress line at most every `heartbeat_s` while trials train)."""

    def __init__(self, console: Console | None = None, *, plain: bool | None = None, heartbeat_s: float = 60.0,
                 clock=time.monotonic) -> None:
        self.console = console or Console()
        self.plain = (not self.console.is_terminal) if plain is None else plain
        self.heartbeat_s, self.clock = heartbeat_s, clock
        self.state = StudyState()
        self._lock = threading.RLock()
        self._live: Live | None = None
        self._last_line = float("-inf")

    def _renderable(self):
        """Called by rich's refresh thread."""
        try:
            with self._lock:
                return render(self.state, self.clock())
        except Exception:  # noqa: BLE001
            log.warning("live view: rendering failed", exc_info=True)
            return Text("(live view unavailable)")

    def _line(self, text: str) -> None:
        self._last_line = self.clock()
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _trial_line(self, trial_id: str, event: str) -> None:
        if self.plain:
            self._line(plain_line(self.state, trial_id, event, self.clock()))

    @_safe
    def study_started(self, spec, trials) -> None:
        title = f"study {getattr(spec, 'name', None) or ''}".strip()
        self.state.on_study_started(title, trial_labels(trials), self.clock())
        if self.plain:
            self._line(f"{title}: {len(self.state.trials)} trials")
        elif self._live is None:
            self._live = Live(get_renderable=self._renderable, console=self.console, refresh_per_second=2)
            self._live.start()

    @_safe
    def stage(self, text: str) -> None:
        self.state.stage = text
        if self.plain:
            self._line(text)

    @_safe
    def trial_started(self, trial_id: str) -> None:
        self.state.on_started(trial_id, self.clock())
        self._trial_line(trial_id, "started")

    @_safe
    def trial_progress(self, trial_id: str, epoch: int, step: int, total_steps: int, loss: float) -> None:
        self.state.on_progress(trial_id, epoch, step, total_steps)
        if self.plain and self.clock() - self._last_line >= self.heartbeat_s:
            self._trial_line(trial_id, "progress")

    @_safe
    def trial_reported(self, trial_id: str, rows: pl.DataFrame) -> None:
        self.state.on_reported(trial_id, rows)
        self._trial_line(trial_id, "reported")

    @_safe
    def trial_restored(self, trial_id: str, rows: pl.DataFrame) -> None:
        self.state.on_restored(trial_id, rows)
        self._trial_line(trial_id, "restored")

    @_safe
    def trial_finished(self, trial_id: str, summary: dict) -> None:
        self.state.on_finished(trial_id, self.clock())
        self._trial_line(trial_id, "finished")

    @_safe
    def trial_failed(self, trial_id: str, error: str) -> None:
        self.state.on_failed(trial_id, error, self.clock())
        self._trial_line(trial_id, "failed")

    def study_finished(self, summary: dict) -> None:
        self.close()  # outside the lock: stopping rich's refresh thread waits for its last render
        self._final_line()

    @_safe
    def _final_line(self) -> None:
        if self.plain:
            self._line(progress_line(self.state, self.clock()))

    def close(self) -> None:
        """Stop the live display (leaving the final table on screen); safe to call twice.
        Never call it while holding the view's lock."""
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            try:
                live.stop()
            except Exception:  # noqa: BLE001
                log.warning("live view: stopping the display failed", exc_info=True)

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
