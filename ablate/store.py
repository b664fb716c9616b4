"""The study directory and its results, written so that a crash loses almost nothing.

    STORAGE/NAME/
        study.toml        the resolved StudySpec (what `--resume` and `report` read)
        ray/              Ray Tune's experiment state (Tuner.restore reads it)
        trials/<id>/      each trial's own results, predictions, config and summary
        results.parquet   every trial's rows (trainers/results.py schema), one row group
                          per evaluation point, rewritten atomically after every report
        failures.json     trial_id -> one-line error, for trials that raised
        status.json       the driver's pid and heartbeat, each trial's status and progress
                          (ablate/status.py; what `maskft tui` watches)

Only the driver writes results.parquet and failures.json; readers (`load_results`, the
report, the TUI) may read them at any time and always see a complete file.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from maskft.ablate.spec import StudySpec
from maskft.trainers.base_stage import BaseConfig
from maskft.trainers.results import conform, empty_results

RESULTS = "results.parquet"
FAILURES = "failures.json"
SPEC = "study.toml"


def check_study_dir(spec: StudySpec) -> None:
    """Refuse, before anything is written, a new study over an old one or a resume of nothing."""
    where = f"{Path(spec.storage)}/"
    exists = spec.study_dir.exists()
    if exists and not spec.resume:
        raise ValueError(f"study {spec.name!r} exists in {where}; pass --resume or another --name")
    if spec.resume and not (spec.study_dir / SPEC).is_file():
        raise ValueError(f"no study {spec.name!r} in {where} to resume")


def load_results(study_dir: str | Path) -> pl.DataFrame:
    """All rows written so far (an empty frame in the schema before the first report)."""
    path = Path(study_dir) / RESULTS
    return conform(pl.read_parquet(path)) if path.is_file() else empty_results()


def load_failures(study_dir: str | Path) -> dict[str, str]:
    path = Path(study_dir) / FAILURES
    return json.loads(path.read_text()) if path.is_file() else {}


class StudyStore:
    """The driver's view of one study directory: evaluation points kept per trial."""

    def __init__(self, spec: StudySpec) -> None:
        check_study_dir(spec)
        self.dir = spec.study_dir
        self.trials_dir = self.dir / "trials"
        self.trials_dir.mkdir(parents=True, exist_ok=True)
        if not spec.resume:
            _atomic_write_text(self.dir / SPEC, spec.to_toml())
        previous = load_results(self.dir)
        self.points: dict[str, list[pl.DataFrame]] = {
            trial_id: [rows for _, rows in frame.group_by("epoch", "step", maintain_order=True)]
            for (trial_id,), frame in previous.group_by("trial_id", maintain_order=True)
        }
        self.failures = load_failures(self.dir)

    @property
    def ray_dir(self) -> Path:
        return self.dir / "ray"

    def trial_dir(self, trial_id: str) -> Path:
        return self.trials_dir / trial_id

    def restart(self, trial_id: str) -> None:
        """A trial (re)starts from scratch: forget its earlier points and failure."""
        if self.points.pop(trial_id, None) is not None:
            self._write_results()
        if self.failures.pop(trial_id, None) is not None:
            _atomic_write_text(self.dir / FAILURES, json.dumps(self.failures, indent=2))

    def add_point(self, trial_id: str, rows: pl.DataFrame) -> None:
        self.points.setdefault(trial_id, []).append(conform(rows))
        self._write_results()

    def add_failure(self, trial_id: str, error: str) -> None:
        self.failures[trial_id] = error
        _atomic_write_text(self.dir / FAILURES, json.dumps(self.failures, indent=2))

    def _write_results(self) -> None:
        schema = empty_results().to_arrow().schema
        tmp = self.dir / f".{RESULTS}.tmp{os.getpid()}"
        with pq.ParquetWriter(tmp, schema) as writer:
            for points in self.points.values():
                for rows in points:
                    writer.write_table(rows.to_arrow().cast(schema))
        os.replace(tmp, self.dir / RESULTS)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- several studies as one ---------------------------------------------------------------


def study_protocol(study_dir: Path) -> dict | None:
    """The settings that shape every trial of a study ([trial], [base] resolved, [eval]) from
    its study.toml; None for a directory without one (`maskft train --out`)."""
    path = Path(study_dir) / SPEC
    if not path.is_file():
        return None
    try:
        document = tomllib.loads(path.read_text())
        base = asdict(BaseConfig(**document.get("base", {})))
    except (tomllib.TOMLDecodeError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a study file ({error})") from None
    return {"trial": document.get("trial", {}), "base": base, "eval": document.get("eval", {})}


def load_studies(study_dirs: list[Path], *, may_differ: tuple[str, ...] = ()) -> pl.DataFrame:
    """Several studies' rows as one frame, each trial once, with each row's `recovery_chats`
    and `study` (the directory it was read from, for callers that group by study).

    Studies must share every trial, base and evaluation setting (their seeds are averaged
    together) except the base settings named in `may_differ` and those that depend on them
    (`DEPENDS_ON`) where those differ."""
    frames, seen, checked = [], set(), []
    for study_dir in map(Path, study_dirs):
        if not study_dir.is_dir():
            raise ValueError(f"no study directory at {study_dir}")
        protocol = study_protocol(study_dir)
        recovery_chats = (protocol or {"base": asdict(BaseConfig())})["base"]["recovery_chats"]
        if protocol is not None:
            for earlier in checked:  # every pair: what may differ depends on the pair
                _check_same_protocol(earlier, (study_dir, protocol), may_differ)
            checked.append((study_dir, protocol))
        rows = load_results(study_dir).filter(~pl.col("trial_id").is_in(list(seen)))
        frames.append(rows.with_columns(pl.lit(recovery_chats).alias("recovery_chats"), pl.lit(str(study_dir)).alias("study")))
        seen |= set(rows["trial_id"])
    return pl.concat(frames)


# Base settings that exist only with another: they may differ wherever that one may and does
# (a base without recovery chats has no word-shuffled copies of them either).
DEPENDS_ON = {"recovery_shuffles": "recovery_chats"}


def _check_same_protocol(earlier: tuple[Path, dict], other: tuple[Path, dict], may_differ: tuple[str, ...]) -> None:
    (first, a), (second, b) = earlier, other
    allowed = set(may_differ)
    for key, parent in DEPENDS_ON.items():
        if parent in may_differ and a["base"].get(parent) != b["base"].get(parent):
            allowed.add(key)
    for section in ("trial", "base", "eval"):
        for key in sorted(set(a[section]) | set(b[section])):
            if a[section].get(key) != b[section].get(key) and not (section == "base" and key in allowed):
                raise ValueError(
                    f"studies {first} and {second} differ in [{section}] {key} "
                    f"({a[section].get(key)!r} vs {b[section].get(key)!r}); their seeds cannot be averaged"
                )
