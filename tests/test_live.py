"""The live view: pure rendering of hand-made study states, plain log lines when stdout is
not a terminal, and a listener that is thread-safe and never raises into the engine."""

from __future__ import annotations

import io
import threading

import polars as pl
import pytest
from rich.console import Console

from maskft.ablate.live import LiveView, StudyState, plain_line, render, sparkline, trial_labels
from maskft.trainers.results import conform
from maskft.trainers.trial import TrialConfig


def make_results(trial_id, epoch, val, test, base=None, directions=("forward", "backward")):
    """One evaluation point's rows: `val`/`test`/`base` map direction -> accuracy."""
    point = {"trial_id": trial_id, "dataset": "namedesc", "method": "masked", "mask_ratio": "random", "paraphrases": 0,
             "order": "same", "replay": 0.0, "model": "tiny", "seed": 0, "epoch": epoch, "step": 10 * epoch,
             "docs_seen": 40 * epoch, "tokens_seen": 900 * epoch, "wall_s": float(epoch), "loss": 1.0}
    cells = [("inject", "val", val), ("inject", "test", test)] + ([("base", "test", base)] if base else [])
    rows = [
        {**point, "population": population, "split": split, "direction": d, "group": "g", "n": 4,
         "accuracy": values[d], "exact_match": 0.0}
        for population, split, values in cells for d in directions if d in values
    ]
    return conform(pl.DataFrame(rows))


class Clock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


def text_of(renderable, width=140):
    console = Console(record=True, width=width, force_terminal=False)
    console.print(renderable)
    return console.export_text()


def reported_state():
    state = StudyState(title="study demo")
    state.on_study_started("study demo", {"a": "ar k=0", "b": "masked(random) k=0", "c": "dllm(random) k=0", "d": "ar k=4"}, now=0)
    state.on_started("a", now=0)
    state.on_reported("a", make_results("a", 0, {"forward": 0.0, "backward": 0.0}, {"forward": 0.1, "backward": 0.0}, base={"forward": 0.5, "backward": 0.3}))
    state.on_reported("a", make_results("a", 2, {"forward": 0.9, "backward": 0.5}, {"forward": 0.8, "backward": 0.4}, base={"forward": 0.4, "backward": 0.2}))
    state.on_reported("a", make_results("a", 4, {"forward": 0.6, "backward": 0.2}, {"forward": 1.0, "backward": 0.6}, base={"forward": 0.2, "backward": 0.2}))
    state.on_finished("a", now=100)
    state.on_started("b", now=50)
    state.on_progress("b", epoch=3, step=30, total_steps=120)
    state.on_started("c", now=60)
    state.on_failed("c", "CUDA out of memory", now=70)
    return state


def test_sparkline_maps_accuracy_on_an_absolute_scale():
    assert sparkline([0.0, 0.5, 1.0, None, 0.14]) == "▁▅█ ▂"


def test_labels_name_the_method_and_only_the_axes_that_vary():
    trials = [TrialConfig(method=m, paraphrases=k) for m in ("ar", "masked") for k in (0, 4)]
    labels = trial_labels(trials)
    assert labels[trials[0].trial_id] == "ar k=0"
    assert labels[trials[3].trial_id] == "masked(random) k=4"


def test_reported_row_shows_latest_best_by_val_and_retention():
    row = reported_state().trials["a"]
    assert (row.latest_forward, row.latest_backward) == (1.0, 0.6)
    assert (row.best_forward, row.best_backward) == (0.8, 0.4)  # val peaked at epoch 2
    assert row.retention == pytest.approx(0.2)
    assert row.curve == pytest.approx([0.05, 0.6, 0.8])


def test_render_shows_one_row_per_trial_with_status_numbers_and_curve():
    text = text_of(render(reported_state(), now=110))
    lines = {line.split()[0] + " " + line.split()[1]: line for line in text.splitlines() if " k=" in line and "✗" not in line}
    assert "done" in lines["ar k=0"] and "0.800" in lines["ar k=0"] and "0.200" in lines["ar k=0"]
    assert "▁▅▇" in lines["ar k=0"]
    assert "running" in lines["masked(random) k=0"] and "3 (25%)" in lines["masked(random) k=0"]
    assert "failed" in lines["dllm(random) k=0"] and "pending" in lines["ar k=4"]
    assert "1/4 done · 1 failed · 1 running · 3 evaluation points · elapsed 1m50s" in text
    assert "✗ dllm(random) k=0: CUDA out of memory" in text


def test_eta_projects_each_running_trials_own_pace():
    state = reported_state()  # a took 100 s; b running since 50, step 30/120; d pending
    # b: 60 s for a quarter -> 240 s in all, 180 left; d: the mean full duration (100 + 240) / 2
    assert state.eta_s(now=110) == pytest.approx(180 + 170)


def test_eta_is_there_before_any_trial_finishes_and_absent_before_any_pace():
    state = StudyState()
    state.on_study_started("s", {"a": "a", "b": "b"}, now=0)
    state.on_started("a", now=0)
    assert state.eta_s(now=5) is None
    state.on_progress("a", epoch=1, step=10, total_steps=40)
    assert state.eta_s(now=20) == pytest.approx(60 + 80)  # a: 60 s left; b pending: 80 s


def test_missing_direction_renders_as_dash():
    state = StudyState()
    state.on_reported("x", make_results("x", 1, {"forward": 0.5}, {"forward": 0.7}, directions=("forward",)))
    assert (state.trials["x"].latest_forward, state.trials["x"].latest_backward) == (0.7, None)
    row = next(line for line in text_of(render(state, now=0)).splitlines() if line.startswith("x "))
    assert [cell.strip() for cell in row.split("│")][3:5] == ["0.700", "—"]


def test_plain_mode_writes_one_ansi_free_line_per_trial_event():
    out, clock = io.StringIO(), Clock()
    view = LiveView(Console(file=out, width=80), clock=clock)  # a file is not a terminal
    trials = [TrialConfig(method="ar"), TrialConfig(method="masked")]
    view.study_started(None, trials)
    view.trial_started(trials[0].trial_id)
    view.trial_progress(trials[0].trial_id, 1, 5, 50, 2.0)  # within the heartbeat: no line
    view.trial_reported(trials[0].trial_id, make_results(trials[0].trial_id, 1, {"forward": 0.5, "backward": 0.25}, {"forward": 0.5, "backward": 0.25}))
    clock.now = 75.0
    view.trial_finished(trials[0].trial_id, {})
    view.trial_failed(trials[1].trial_id, "boom")
    view.study_finished({})
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue() and len(lines) == 6
    assert lines[2] == "[0/2 done, 0 failed, ETA —] ar: epoch 1: fwd 0.500 bwd 0.250 · best 0.500/0.250 · retention —"
    assert lines[3].endswith("ar: done in 1m15s · best fwd 0.500 bwd 0.250")
    assert lines[4].endswith("masked(random): FAILED: boom")
    assert lines[5].startswith("1/2 done · 1 failed")


def test_plain_progress_lines_are_throttled_to_the_heartbeat():
    state = StudyState()
    state.on_progress("t", epoch=2, step=7, total_steps=20)
    assert plain_line(state, "t", "progress", now=0).endswith("t: epoch 2, step 7/20")
    out, clock = io.StringIO(), Clock()
    view = LiveView(Console(file=out), heartbeat_s=30, clock=clock)
    for second in range(0, 100, 10):
        clock.now = float(second)
        view.trial_progress("t", 1, second, 100, 1.0)
    assert len(out.getvalue().splitlines()) == 4  # at 0, 30, 60, 90 s


def test_listener_never_raises_into_the_engine():
    view = LiveView(Console(file=io.StringIO()))
    view.trial_reported("t", pl.DataFrame({"not": ["results"]}))
    view.trial_finished("t", {})
    assert view.state.trials["t"].status == "done"


def test_concurrent_reports_are_all_counted():
    view = LiveView(Console(file=io.StringIO()), plain=False)
    rows = make_results("t", 1, {"forward": 0.5, "backward": 0.5}, {"forward": 0.5, "backward": 0.5})
    threads = [threading.Thread(target=lambda: [view.trial_reported("t", rows) for _ in range(5)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert view.state.evaluation_points == 20 and len(view.state.trials["t"].rows) == 20


def test_terminal_mode_draws_the_table_and_leaves_it_on_screen():
    console = Console(file=io.StringIO(), force_terminal=True, width=140, record=True)
    view = LiveView(console)
    trial = TrialConfig(method="ar")
    view.study_started(None, [trial])
    view.trial_started(trial.trial_id)
    view.trial_finished(trial.trial_id, {})
    view.study_finished({})
    assert not view.plain and "1/1 done" in console.export_text()


def test_a_trial_restored_on_resume_counts_done_with_its_numbers_and_no_pace():
    out, clock = io.StringIO(), Clock()
    view = LiveView(Console(file=out, width=100), clock=clock)
    trials = [TrialConfig(method="ar"), TrialConfig(method="masked")]
    view.study_started(None, trials)
    view.trial_restored(trials[0].trial_id, make_results(trials[0].trial_id, 1, {"forward": 0.5, "backward": 0.25}, {"forward": 0.5, "backward": 0.25}))
    assert out.getvalue().splitlines()[-1] == "[1/2 done, 0 failed, ETA —] ar: finished earlier · best fwd 0.500 bwd 0.250"
    assert view.state.eta_s(clock.now) is None
