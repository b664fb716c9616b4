"""`maskft tui`: which folder it opens, what it shows of a study, and the launch form, stop
and report actions, driven headless through Textual's pilot on hand-made study folders."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import plotext
import pytest
from rich.console import Console
from textual.widgets import OptionList, Static

from maskft.ablate.store import load_results
from maskft.app.tui import LaunchScreen, StudiesApp, ablate_argv, draw_curves, resolve_target

def plain(content) -> str:
    """What a widget's rich content reads as on a wide terminal."""
    console = Console(record=True, width=200, force_terminal=False)
    console.print(content)
    return console.export_text().strip()


def run(app: StudiesApp, *keys: str, then=None) -> dict:
    """Start the app headless, press `keys`, await `then(app, pilot)`, and return what the
    screens showed just before it closed."""

    async def drive():
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            if then is not None:
                await then(app, pilot)
            main, top = app.screen_stack[0], app.screen
            menu = main.query_one("#studies", OptionList)
            shown = {f"#{name}": plain(main.query_one(f"#{name}", Static).content) for name in ("driver", "trials", "spec")}
            return {
                **shown, "studies": [menu.get_option_at_index(i).id for i in range(menu.option_count)],
                "form": top if isinstance(top, LaunchScreen) else None,
                "form error": plain(top.query_one("#form-error", Static).content) if isinstance(top, LaunchScreen) else None,
            }

    return asyncio.run(drive())


# ---- what it opens ------------------------------------------------------------------------


def test_run_dir_is_a_study_or_a_folder_of_studies(tmp_path, studies):
    store = studies.finished("one")
    assert resolve_target(None) == (Path("runs"), None)
    assert resolve_target(store.dir) == (tmp_path, store.dir)
    assert resolve_target(tmp_path) == (tmp_path, None)
    with pytest.raises(ValueError, match="no study or folder of studies"):
        resolve_target(tmp_path / "missing")
    with pytest.raises(ValueError, match="is a file"):
        resolve_target(store.dir / "study.toml")


def test_tui_on_a_missing_folder_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from maskft.app.cli import main

    monkeypatch.setattr(sys, "argv", ["maskft", "tui", str(tmp_path / "missing")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "no study or folder of studies" in err[0]


# ---- what it shows ------------------------------------------------------------------------


def test_lists_studies_newest_first_and_shows_the_selected_ones_trials(tmp_path, studies):
    studies.finished("older")
    spec, store, status = studies.start("newer", methods=("dllm",), seeds=(0, 1))
    status.trial_started(spec.trials()[0].trial_id)

    seen = run(StudiesApp(tmp_path))

    assert seen["studies"] == ["newer", "older"]
    assert seen["#driver"].startswith("newer: running (pid")
    table = seen["#trials"]
    assert re.search(r"dllm\(random\) s0\s+│ running", table) and re.search(r"dllm\(random\) s1\s+│ pending", table)


def test_moving_the_selection_shows_that_studys_numbers_and_spec(tmp_path, studies):
    studies.finished("older")
    studies.start("newer")

    app = StudiesApp(tmp_path)
    seen = run(app, "down")

    assert app.selected == tmp_path / "older" and seen["#driver"] == "older: finished"
    table = seen["#trials"]
    assert re.search(r"ar s0\s+│ done\s+│\s+8 │ 0\.900 │ 0\.050", table)
    assert re.search(r"masked\(random\) s1\s+│ done\s+│\s+8 │ 0\.800 │ 0\.700", table)
    assert 'name = "older"' in seen["#spec"]


def test_curves_draw_one_seed_mean_line_per_condition(tmp_path, studies):
    store = studies.finished("study")
    plotext.clear_figure()
    draw_curves(plotext, load_results(store.dir), "backward")
    plotext.plotsize(80, 20)
    drawn = plotext.build()
    assert "ar" in drawn and "masked (random) k=0" in drawn and "backward (test, mean over seeds)" in drawn


# ---- what it does -------------------------------------------------------------------------


def fill(**fields):
    async def then(app, pilot):
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        for key, value in fields.items():
            screen.query_one(f"#{key}").value = value
        await pilot.click("#launch")
        await pilot.pause()

    return then


def test_the_launch_form_refuses_bad_input_in_one_line_and_starts_nothing(tmp_path):
    launched = []
    seen = run(StudiesApp(tmp_path, launcher=lambda argv, log: launched.append(argv)), "n",
               then=fill(method="ar,nope", name="x"))

    assert launched == [] and seen["form"] is not None
    assert "unknown method 'nope'" in seen["form error"]


def test_the_launch_form_starts_maskft_ablate_with_the_flags_given(tmp_path):
    launched = []
    app = StudiesApp(tmp_path, launcher=lambda argv, log: launched.append((argv, log)))
    seen = run(app, "n", then=fill(method="ar,masked", seeds="0,1", epochs="20", gpus_per_trial="0.5", name="mine"))

    argv, log = launched[0]
    assert argv == ["ablate", "--method", "ar,masked", "--seeds", "0,1", "--epochs", "20", "--gpus-per-trial", "0.5",
                    "--storage", str(tmp_path), "--name", "mine"]
    assert log == tmp_path / ".logs" / "mine.log" and app.selected == tmp_path / "mine" and seen["form"] is None
    assert seen["#driver"] == "mine: starting (see the Log tab)"


def test_a_launched_study_that_fails_is_reported_with_its_last_log_line(tmp_path):
    def failing(argv, log):
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("study x: 1 trials\nmaskft: error: no space left on device\n")
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])

    told = []
    app = StudiesApp(tmp_path, launcher=failing)
    app.notify = lambda message, **kwargs: told.append(message)

    async def launch_then_poll(app, pilot):
        await fill(name="x")(app, pilot)
        app.launched["x"].wait()
        app.poll()

    run(app, "n", then=launch_then_poll)
    assert told == ["launched study x; its log is in the Log tab",
                    "study x ended with exit code 2: maskft: error: no space left on device"]
    assert app.launched == {}


def test_the_form_checks_like_the_command_line_does(tmp_path, studies):
    studies.finished("taken")
    with pytest.raises(ValueError, match="exists"):
        ablate_argv(tmp_path, {"name": "taken"}, quick=False)
    with pytest.raises(ValueError, match="either a study file or --quick"):
        ablate_argv(tmp_path, {"study_file": str(tmp_path / "taken" / "study.toml")}, quick=True)
    with pytest.raises(ValueError, match="epochs must be an integer, got 'ten'"):
        ablate_argv(tmp_path, {"epochs": "ten"}, quick=False)
    with pytest.raises(ValueError, match="cpus per trial must be >= 1"):
        ablate_argv(tmp_path, {"cpus_per_trial": "0"}, quick=False)
    with pytest.raises(ValueError, match="gpus per trial must be a number"):
        ablate_argv(tmp_path, {"gpus_per_trial": "one"}, quick=False)
    spec, argv = ablate_argv(tmp_path, {}, quick=True)
    assert argv == ["ablate", "--quick", "--storage", str(tmp_path), "--name", spec.name]


def test_stop_sends_the_running_driver_a_ctrl_c(tmp_path, studies):
    spec, store, status = studies.start("live")
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        status.status["driver"]["pid"] = driver.pid
        status._write()
        run(StudiesApp(tmp_path), "x")
        assert driver.wait(timeout=10) != 0  # interrupted by SIGINT (KeyboardInterrupt)
    finally:
        driver.kill()


def test_stop_and_continue_leave_a_finished_study_alone(tmp_path, studies):
    launched = []
    studies.finished("done")

    app = StudiesApp(tmp_path, launcher=lambda argv, log: launched.append(argv))
    run(app, "x", "c")

    assert launched == [] and not app.snapshot.running


def test_continue_resumes_an_interrupted_study(tmp_path, studies):
    _, _, status = studies.start("halfway")
    status.study_finished({"interrupted": True})
    launched = []

    run(StudiesApp(tmp_path, launcher=lambda argv, log: launched.append(argv)), "c")

    assert launched == [["ablate", "--storage", str(tmp_path), "--name", "halfway", "--resume"]]


def test_an_unreadable_study_is_one_red_line_not_a_crash(tmp_path, studies):
    store = studies.finished("broken")
    (store.dir / "results.parquet").write_text("not parquet")

    seen = run(StudiesApp(tmp_path))

    assert seen["#driver"].startswith("broken: cannot be read")


def test_report_writes_the_studys_report(tmp_path, studies):
    store = studies.finished("study")

    async def wait_for_report(app, pilot):
        await app.workers.wait_for_complete()

    run(StudiesApp(tmp_path), "p", then=wait_for_report)

    assert (store.dir / "report" / "report.md").is_file() and (store.dir / "report" / "data_efficiency.png").is_file()
