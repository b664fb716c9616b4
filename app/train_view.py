"""`maskft train`'s terminal view: a rich progress bar fed by the trial's events, then a table."""

from __future__ import annotations

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from maskft.trainers.results import headline


class TrainView:
    """Turns `run_trial` events into one progress bar per stage and printed eval lines."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, int] = {}
        self.latest = ""

    def __enter__(self) -> "TrainView":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def on_event(self, kind: str, payload) -> None:
        if kind == "stage":
            self.progress.console.print(f"[cyan]{payload}[/]")
        elif kind == "base_step":
            label, state = payload
            self._advance(label, state)
        elif kind == "step":
            self._advance("inject", state=payload)
        elif kind == "eval":
            self.latest = _accuracy_text(payload)
            self.progress.console.print(f"[bold]epoch {payload['epoch'][0]:>4}[/]  {self.latest}", highlight=False)

    def _advance(self, label: str, state) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=state.total_steps, info="")
        info = f"epoch {state.epoch} loss {state.loss:.3f}"
        if label == "inject" and self.latest:
            info += f"  {self.latest}"
        self.progress.update(self.tasks[label], completed=state.step, total=state.total_steps, info=info)


def _accuracy_text(rows: pl.DataFrame) -> str:
    """`fwd 0.83 bwd 0.07  retention 0.91` (plain text) from one evaluation point's rows."""
    parts = []
    test = _mean_by_direction(rows.filter((pl.col("population") == "inject") & (pl.col("split") == "test")))
    parts.append(f"fwd {_fmt(test.get('forward'))} bwd {_fmt(test.get('backward'))}")
    base = rows.filter(pl.col("population") == "base")
    if base.height:
        parts.append(f"retention {_fmt(_weighted(base))}")
    return "  ".join(parts)


def _mean_by_direction(rows: pl.DataFrame) -> dict[str, float]:
    return {d: _weighted(rows.filter(pl.col("direction") == d)) for d in ("forward", "backward")}


def _weighted(rows: pl.DataFrame) -> float | None:
    if rows.height == 0 or rows["n"].sum() == 0:
        return None
    return float((rows["accuracy"] * rows["n"]).sum() / rows["n"].sum())


def _fmt(value: float | None) -> str:
    return "  - " if value is None else f"{value:.2f}"


def final_table(results: pl.DataFrame) -> Table:
    """Forward/backward test accuracy at the best val point and at the last point, and retention."""
    table = Table(title="injection result (test questions; best point chosen on val questions)", title_justify="left")
    for column in ("", "epoch", "forward", "backward", "retention"):
        table.add_column(column, justify="left" if not column else "right")
    for row in headline(results).iter_rows(named=True):
        for which in ("best", "last"):
            epoch = row[f"{which}_epoch"]
            base = results.filter((pl.col("population") == "base") & (pl.col("epoch") == epoch))
            table.add_row(which, str(epoch), _fmt(row[f"{which}_forward"]), _fmt(row[f"{which}_backward"]), _fmt(_weighted(base)))
    before = results.filter((pl.col("epoch") == 0) & (pl.col("population") == "inject") & (pl.col("split") == "test"))
    if before.height:
        m = _mean_by_direction(before)
        base = results.filter((pl.col("population") == "base") & (pl.col("epoch") == 0))
        table.add_row("before", "0", _fmt(m["forward"]), _fmt(m["backward"]), _fmt(_weighted(base)))
    return table
