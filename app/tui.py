"""`maskft tui`: browse, watch, launch and stop studies in a terminal UI (Textual).

Everything shown is read from the study directories (`ablate.status.study_snapshot`), so
a study launched here, in another terminal or by a cluster job on a shared disk looks
the same, and quitting the TUI never stops a study. Launching runs `maskft ablate` as a
process of its own (its log in STORAGE/.logs/NAME.log), after the form's input has passed
the same `StudySpec.from_cli` check the command line applies; stopping sends the driver
the Ctrl-C the command line would get, so every written result is kept.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
from rich.measure import Measurement
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from maskft.ablate.live import render
from maskft.ablate.report import condition_label, condition_order, row_axes, seed_bands, write_report
from maskft.ablate.spec import StudySpec
from maskft.ablate.status import Snapshot, last_change, list_studies, study_snapshot
from maskft.ablate.store import SPEC, check_study_dir
from maskft.trainers.results import DIRECTIONS, accuracy_curves

REFRESH_S = 2.0
LOG_DIR = ".logs"
LOG_LINES = 200
PALETTE = ["blue+", "orange+", "green+", "red+", "magenta+", "cyan+", "gray+", "white"]  # one colour per condition
FORM_FLAGS = {  # launch-form field -> (`maskft ablate` flag, the type `StudySpec.from_cli` takes)
    "dataset": ("--dataset", str), "method": ("--method", str), "mask_ratio": ("--mask-ratio", str),
    "paraphrases": ("--paraphrases", str), "seeds": ("--seeds", str), "epochs": ("--epochs", int),
    "cpus_per_trial": ("--cpus-per-trial", int), "gpus_per_trial": ("--gpus-per-trial", float),
    "max_concurrent": ("--max-concurrent", int), "name": ("--name", str),
}


def resolve_target(run_dir: Path | None) -> tuple[Path, Path | None]:
    """(storage, study to open): RUN_DIR is one study (has a study.toml) or a folder of them."""
    if run_dir is None:
        return Path("runs"), None
    if not run_dir.exists():
        raise ValueError(f"no study or folder of studies at {run_dir}")
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is a file; pass a study directory or a folder of studies")
    if (run_dir / SPEC).is_file():
        return run_dir.parent, run_dir
    return run_dir, None


def ablate_argv(storage: Path, form: dict[str, str], quick: bool) -> tuple[StudySpec, list[str]]:
    """Check the launch form as `maskft ablate` would and return the command's arguments.

    The study name is fixed here (a timestamp when left blank) so the TUI knows which
    directory to watch. Raises ValueError with one line for bad input."""
    values = {key: text.strip() for key, text in form.items() if text and text.strip()}
    study_file = values.pop("study_file", None)
    if study_file is not None and not Path(study_file).is_file():
        raise ValueError(f"no study file at {study_file}")
    typed = {key: _typed(key, values[key], FORM_FLAGS[key][1]) for key in values}
    spec = StudySpec.from_cli(study_file, quick=quick, storage=str(storage), **typed)
    check_study_dir(spec)
    argv = ["ablate", *([study_file] if study_file else []), *(["--quick"] if quick else [])]
    for key, (flag, _) in FORM_FLAGS.items():
        if key != "name" and key in values:
            argv += [flag, values[key]]
    return spec, [*argv, "--storage", str(storage), "--name", spec.name]


def _typed(key: str, text: str, kind: type):
    """The form's text as the type `from_cli` takes; its bounds are StudySpec's own checks."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{key.replace('_', ' ')} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def log_path(storage: Path, name: str) -> Path:
    return storage / LOG_DIR / f"{name}.log"


def launch(argv: list[str], log: Path) -> subprocess.Popen:
    """Run `maskft <argv>` detached from the TUI (quitting it leaves the study running)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "maskft.app.cli", *argv], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )


def draw_curves(plt, results: pl.DataFrame, direction: str) -> None:
    """Seed-mean test accuracy against documents seen, one line per condition (the report's
    data-efficiency panel, in the terminal). x is logarithmic as evaluation points double."""
    plt.clear_data()
    plt.clear_figure()
    curves = accuracy_curves(results)
    plt.title(f"{direction} (test, mean over seeds)" if curves.height else f"{direction}: no evaluation point yet")
    if curves.height == 0:
        return
    axes = row_axes(results) + (["dataset"] if results["dataset"].n_unique() > 1 else [])
    bands = seed_bands(curves, axes, direction)
    positive = bands.filter(pl.col("x") > 0)["x"]
    zero_at = float(positive.min()) / 2 if positive.len() else 1.0  # "before injection" left of the first point
    conditions = condition_order(curves.select(axes).unique(), axes).rows()  # the report's order, in both panels
    for i, key in enumerate(conditions):
        line = bands.filter(*[pl.col(a).eq_missing(v) for a, v in zip(axes, key)])
        if line.height == 0:
            continue
        row = dict(zip(axes, key))
        label = condition_label(row, axes) + (f" {Path(row['dataset']).name}" if "dataset" in axes else "")
        x = [value if value > 0 else zero_at for value in line["x"].to_list()]
        plt.plot(x, line["mean"].to_list(), label=label, marker="braille", color=PALETTE[i % len(PALETTE)])
    plt.xscale("log")
    high = float(positive.max()) if positive.len() else 1.0
    ticks = [zero_at] + [10.0**p for p in range(math.ceil(math.log10(max(zero_at * 2, 1))), math.floor(math.log10(high)) + 1)]
    plt.xticks(ticks, ["0"] + [f"{t:g}" for t in ticks[1:]])
    plt.xlabel("documents seen")
    plt.ylim(0, 1)


def log_tail(path: Path, lines: int = LOG_LINES) -> str:
    if not path.is_file():
        return "(no log: this study was not launched from the TUI)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class LaunchScreen(ModalScreen[list[str] | None]):
    """The launch form: the `maskft ablate` flags a study most often sets."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    FIELDS = [  # (field, label, placeholder)
        ("study_file", "study file", "blank: the embedded default study; e.g. studies/core.toml"),
        ("dataset", "datasets", "e.g. namedesc,bio,wiki"), ("method", "methods", "e.g. ar,masked,dllm"),
        ("mask_ratio", "mask ratios", "e.g. random,0.5"), ("paraphrases", "paraphrases", "counts, e.g. 0,4,9"),
        ("seeds", "seeds", "e.g. 0,1,2"), ("epochs", "epochs", "of every trial"),
        ("cpus_per_trial", "CPUs per trial", "e.g. 2"), ("gpus_per_trial", "GPUs per trial", "e.g. 1"),
        ("max_concurrent", "trials at once", "0: as many as fit"), ("name", "name", "blank: a timestamp"),
    ]

    def __init__(self, storage: Path) -> None:
        super().__init__()
        self.storage = storage

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form"):
            yield Label(f"New study in {self.storage}/ (blank fields keep the study's own values)", id="form-title")
            for key, label, placeholder in self.FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(placeholder=placeholder, id=key, compact=True)
            yield Checkbox("--quick (the tiny preset; not with a study file)", id="quick", compact=True)
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Launch", variant="primary", id="launch", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def form(self) -> dict[str, str]:
        return {key: self.query_one(f"#{key}", Input).value for key, _, _ in self.FIELDS}

    @on(Button.Pressed, "#launch")
    @on(Input.Submitted)
    def submit(self) -> None:
        try:
            _, argv = ablate_argv(self.storage, self.form(), self.query_one("#quick", Checkbox).value)
        except (ValueError, OSError) as error:
            self.query_one("#form-error", Static).update(Text(f"✗ {str(error).splitlines()[0]}", style="bold red"))
            return
        self.dismiss(argv)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class StudiesApp(App):
    """Studies of one storage folder on the left; the selected one's trials, curves, spec and log."""

    TITLE = "maskft"
    CSS_PATH = "tui.tcss"
    BINDINGS = [
        Binding("n", "new_study", "New study"),
        Binding("c", "resume", "Continue"),
        Binding("x", "stop", "Stop"),
        Binding("p", "report", "Report"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, storage: Path, study: Path | None = None,
                 launcher: Callable[[list[str], Path], object] = launch) -> None:
        super().__init__()
        self.storage, self.launcher = Path(storage), launcher
        self.selected: Path | None = study
        self.snapshot: Snapshot | None = None
        self._seen: tuple = ()
        self._shown_change = -1.0
        self.launched: dict[str, subprocess.Popen] = {}  # studies started here whose end is not yet told

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(id="studies")
            with Vertical(id="main"):
                yield Static("", id="driver")
                with TabbedContent(id="tabs"):
                    with TabPane("Trials", id="tab-trials"):
                        yield ScrollableContainer(Static("", id="trials"))
                    with TabPane("Curves", id="tab-curves"):
                        with Horizontal():
                            for direction in DIRECTIONS:
                                yield PlotextPlot(id=direction)
                    with TabPane("Study", id="tab-study"):
                        yield ScrollableContainer(Static("", id="spec"))
                    with TabPane("Log", id="tab-log"):
                        yield ScrollableContainer(Static("", id="log"))
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.storage.resolve())
        self.refresh_studies()
        self.set_interval(REFRESH_S, self.poll)

    # ---- reading ----------------------------------------------------------------------
    def refresh_studies(self) -> None:
        studies = list_studies(self.storage)
        listing = tuple(study.name for study in studies)
        if listing != self._seen:
            self._seen = listing
            menu = self.query_one("#studies", OptionList)
            menu.set_options([Option(name, id=name) for name in listing])
            if self.selected is None and studies:
                self.selected = studies[0]
            if self.selected is not None and self.selected.name in listing:
                menu.highlighted = listing.index(self.selected.name)
        if not studies:
            self.query_one("#driver", Static).update(f"No studies in {self.storage}/ yet: press n to launch one.")
        self.show()

    def poll(self) -> None:
        self.refresh_studies()
        for name, process in list(self.launched.items()):
            code = process.poll()
            if code is None:
                continue
            del self.launched[name]
            if code == 0:
                self.notify(f"study {name} finished")
            else:
                last = log_tail(log_path(self.storage, name), 1)
                words = "was interrupted" if code == 130 else f"ended with exit code {code}: {last}"
                self.notify(f"study {name} {words}", severity="warning" if code == 130 else "error", timeout=15)

    @on(OptionList.OptionHighlighted, "#studies")
    def study_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        chosen = self.storage / str(event.option.id)
        if chosen != self.selected:
            self.selected, self._shown_change = chosen, -1.0
            self.show()

    def show(self) -> None:
        """Re-read the selected study when its files changed (or it runs: elapsed and ETA move)."""
        study = self.selected
        if study is None:
            return
        if not (study / SPEC).is_file():  # launched a moment ago: its driver is still validating
            self.query_one("#driver", Static).update(f"{study.name}: starting (see the Log tab)")
            self.query_one("#log", Static).update(Text(log_tail(log_path(self.storage, study.name))))
            return
        change = last_change(study)
        running = self.snapshot is not None and self.snapshot.study_dir == study and self.snapshot.running
        if change == self._shown_change and not running:
            return
        self._shown_change = change
        try:
            self.snapshot = snap = study_snapshot(study)
        except Exception as error:  # noqa: BLE001 - one unreadable folder must not close the TUI
            self.snapshot = None
            self.query_one("#driver", Static).update(Text(f"{study.name}: cannot be read ({error})", style="red"))
            return
        words = Text(f"{study.name}: {snap.driver}")
        if snap.error:
            words.append(f"\n{snap.error}", style="red")
        self.query_one("#driver", Static).update(words)
        table = render(snap.state, snap.as_of)
        trials = self.query_one("#trials", Static)
        trials.styles.width = Measurement.get(self.console, self.console.options.update_width(1000), table).maximum  # scroll, don't squeeze
        trials.update(table)
        for direction in DIRECTIONS:
            plot = self.query_one(f"#{direction}", PlotextPlot)
            draw_curves(plot.plt, snap.results, direction)
            plot.refresh()
        self.query_one("#spec", Static).update(Syntax((study / SPEC).read_text(), "toml", line_numbers=False))
        self.query_one("#log", Static).update(Text(log_tail(log_path(self.storage, study.name))))

    # ---- acting -----------------------------------------------------------------------
    def action_new_study(self) -> None:
        self.push_screen(LaunchScreen(self.storage), self.launch_study)

    def launch_study(self, argv: list[str] | None) -> None:
        if argv is None:
            return
        name = argv[argv.index("--name") + 1]
        try:
            process = self.launcher(argv, log_path(self.storage, name))
        except OSError as error:
            self.notify(f"could not start maskft ablate: {error}", severity="error")
            return
        if isinstance(process, subprocess.Popen):
            self.launched[name] = process
        self.selected, self._shown_change = self.storage / name, -1.0
        self.show()
        self.notify(f"launched study {name}; its log is in the Log tab")

    def action_resume(self) -> None:
        snap = self.snapshot
        if snap is None or snap.running:
            self.notify("select a study that is not running to continue it", severity="warning")
            return
        if snap.driver.startswith("unknown"):
            self.notify(f"{snap.study_dir.name} has no status file (an older maskft), so whether its driver still runs "
                        f"is unknown: once it has stopped, `maskft ablate --name {snap.study_dir.name} --resume` continues it",
                        severity="warning", timeout=15)
            return
        if all(row.status == "done" for row in snap.state.trials.values()):
            self.notify(f"every trial of {snap.study_dir.name} is done; nothing to continue")
            return
        argv = ["ablate", "--storage", str(self.storage), "--name", snap.study_dir.name, "--resume"]
        self.launch_study(argv)

    def action_stop(self) -> None:
        """Ctrl-C for the selected study's driver: trials stop, written results stay."""
        snap = self.snapshot
        pid = snap.driver_pid if snap is not None else None
        if pid is None:
            self.notify("the selected study is not running on this machine", severity="warning")
            return
        try:
            os.kill(pid, signal.SIGINT)
        except OSError as error:
            self.notify(f"could not stop pid {pid}: {error}", severity="error")
            return
        self.notify(f"asked study {snap.study_dir.name} to stop (pid {pid}); `c` continues it later")

    def action_report(self) -> None:
        if self.selected is not None:
            self.write_report(self.selected)

    @work(thread=True, exclusive=True)
    def write_report(self, study: Path) -> None:
        try:
            paths = write_report(study)
        except (ValueError, OSError) as error:
            self.call_from_thread(self.notify, f"no report: {str(error).splitlines()[0]}", severity="warning")
            return
        self.call_from_thread(self.notify, f"wrote {paths[0]} and {len(paths) - 1} figures")
