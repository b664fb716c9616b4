"""A study: the grid of trials to run, their fixed settings and where/how to run them.

Read from a TOML file (or a packaged preset), overridden by CLI flags, validated in one
place before anything starts, and saved back as `study.toml` in the study directory so a
study can be resumed and reported exactly as it was run. The TOML layout:

    extends = "other.toml"   (optional: that study, relative to this file, with this file's
                              settings on top, table by table)
    name = "..."          storage = "runs"          cache = "/abs/maskft/cache"
    [grid]       datasets, methods, mask_ratios, paraphrases, orders, replays, seeds, models,
                 method_mask_ratios (per-method mask ratios replacing `mask_ratios` for that method,
                 e.g. { "random-token" = ["1"] }: the paper's control corrupts every token)
    [trial]      epochs, lr, lr_schedule, batch_size, eval_points, retention_questions, max_questions, document_format,
                 dllm_document_format, mask_spans
    [base]       BaseConfig fields          [eval]  EvalConfig fields
    [resources]  address, cpus_per_trial, gpus_per_trial, max_concurrent
"""

from __future__ import annotations

import importlib.resources
import itertools
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from maskft.datasets.registry import GENERATORS, default_cache_dir
from maskft.datasets.schema import ORDERS
from maskft.trainers.base_stage import BaseConfig
from maskft.trainers.evaluation import EvalConfig
from maskft.trainers.models import PRESETS, is_checkpoint
from maskft.trainers.objectives import CORRUPTING_METHODS, METHODS, MaskRatio, check_mask_spans
from maskft.trainers.trial import MASKED_METHODS, TrialConfig

AXES = ("datasets", "methods", "mask_ratios", "paraphrases", "orders", "replays", "seeds", "models")
TRIAL_SETTINGS = (
    "epochs", "lr", "lr_schedule", "batch_size", "eval_points", "retention_questions", "max_questions", "document_format", "dllm_document_format",
    "mask_spans",
)
RESOURCES = ("address", "cpus_per_trial", "gpus_per_trial", "max_concurrent")
PRESET_FILES = {"default": "default.toml", "quick": "quick.toml"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines a study; `trials()` expands it into TrialConfigs."""

    # the grid: every combination that makes sense (see `trials`)
    datasets: list[str] = field(default_factory=lambda: ["namedesc"])
    methods: list[str] = field(default_factory=lambda: ["ar", "masked", "dllm"])
    mask_ratios: list[str] = field(default_factory=lambda: ["random"])
    paraphrases: list[int] = field(default_factory=lambda: [0])
    orders: list[str] = field(default_factory=lambda: ["same"])
    replays: list[float] = field(default_factory=lambda: [0.0])
    seeds: list[int] = field(default_factory=lambda: [0])
    models: list[str] = field(default_factory=lambda: ["tiny"])
    method_mask_ratios: dict[str, list[str]] = field(default_factory=dict)
    # fixed trial settings
    epochs: int = 100
    lr: float = 3e-4
    lr_schedule: str = "constant"
    batch_size: int = 16
    eval_points: int = 6
    retention_questions: int = 128
    max_questions: int | None = None
    document_format: str = "chat"
    dllm_document_format: str = "plain"
    mask_spans: str = "tokens"
    base: BaseConfig = field(default_factory=BaseConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    # where and how
    address: str = "local"  # "local" (a private Ray on this machine), "auto" (join a running one), "ray://host:port"
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0
    max_concurrent: int = 0  # 0: as many trials as the resources allow
    storage: str = "runs"
    name: str = ""  # "" -> a timestamp
    cache: str = ""  # base-model/dataset cache shared by driver and workers; "" -> MASKFT_CACHE or ~/.cache/maskft
    resume: bool = False
    verbose: bool = False

    def __post_init__(self) -> None:
        for axis in AXES:
            values = getattr(self, axis)
            if not isinstance(values, list) or not values:
                raise ValueError(f"axis {axis!r} needs at least one value")
        for method in self.methods:
            if method not in METHODS:
                raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        check_mask_spans(self.mask_spans)
        for order in self.orders:
            if order not in ORDERS:
                raise ValueError(f"unknown paraphrase order {order!r}; choose from {', '.join(ORDERS)}")
        object.__setattr__(self, "mask_ratios", [MaskRatio(r).label for r in self.mask_ratios])
        if not isinstance(self.method_mask_ratios, dict):
            raise ValueError("method_mask_ratios must map a method to its list of mask ratios")
        for method, ratios in self.method_mask_ratios.items():
            if method not in MASKED_METHODS:
                raise ValueError(f"method_mask_ratios: {method!r} takes no mask ratio; choose from {', '.join(MASKED_METHODS)}")
            if not isinstance(ratios, list) or not ratios:
                raise ValueError(f"method_mask_ratios: {method!r} needs a non-empty list of mask ratios")
        object.__setattr__(
            self, "method_mask_ratios",
            {m: [MaskRatio(str(r)).label for r in ratios] for m, ratios in self.method_mask_ratios.items()},
        )
        for dataset in self.datasets:
            if dataset not in GENERATORS and not Path(dataset).is_dir():
                raise ValueError(f"unknown dataset {dataset!r}: use {', '.join(GENERATORS)} or a dataset directory")
        for model in self.models:
            if model not in PRESETS and not is_checkpoint(model):
                raise ValueError(f"model {model!r} is neither a preset ({', '.join(PRESETS)}) nor a checkpoint directory")
        # Ray runs each trial in its own working directory, where a relative path means nothing
        object.__setattr__(self, "datasets", [d if d in GENERATORS else _absolute(d) for d in self.datasets])
        object.__setattr__(self, "models", [m if m in PRESETS else _absolute(m) for m in self.models])
        for k in self.paraphrases:
            if not isinstance(k, int) or k < 0:
                raise ValueError(f"paraphrase counts must be integers >= 0, got {k!r}")
        for replay in self.replays:
            if not 0 <= replay < 1:
                raise ValueError(f"replay fractions must be in [0, 1), got {replay!r}")
        if not (self.address in ("local", "auto") or self.address.startswith("ray://") or re.fullmatch(r"[\w.-]+:\d+", self.address)):
            raise ValueError(f"--address must be 'local', 'auto', ray://HOST:PORT or HOST:PORT, got {self.address!r}")
        if self.cpus_per_trial < 1 or self.gpus_per_trial < 0 or self.max_concurrent < 0:
            raise ValueError("cpus per trial must be >= 1, gpus per trial and max concurrent trials >= 0")
        if not self.name:
            object.__setattr__(self, "name", time.strftime("%Y%m%d-%H%M%S"))
        if not _NAME.match(self.name):
            raise ValueError(f"study name {self.name!r} must be letters, digits, '.', '_' or '-'")
        object.__setattr__(self, "cache", str(Path(self.cache or default_cache_dir()).expanduser().resolve()))
        self.trials()  # every trial valid, grid not empty

    @property
    def study_dir(self) -> Path:
        return Path(self.storage).expanduser().resolve() / self.name

    def trials(self) -> list[TrialConfig]:
        """The grid without meaningless repeats: a mask ratio only for masked methods
        (`ar`/`ar-reverse` get one trial with mask_ratio None), an order only when
        there are paraphrases (k = 0 gets one trial, order "same") and `mask_spans` only
        for the methods that show a corrupted prompt."""
        fixed = {name: getattr(self, name) for name in TRIAL_SETTINGS} | {"base": self.base, "eval": self.eval}
        spans = fixed.pop("mask_spans")
        trials: dict[str, TrialConfig] = {}
        other_axes = [a for a in AXES if a != "mask_ratios"]
        for dataset, method, k, order, replay, seed, model in itertools.product(*(getattr(self, a) for a in other_axes)):
            for ratio in self.method_mask_ratios.get(method, self.mask_ratios):
                trial = TrialConfig(
                    dataset=dataset, method=method, mask_ratio=ratio if method in MASKED_METHODS else None,
                    paraphrases=k, order=order if k > 0 else "same", replay=replay, seed=seed, model=model,
                    mask_spans=spans if method in CORRUPTING_METHODS else "tokens", **fixed,
                )
                trials.setdefault(trial.trial_id, trial)
        return list(trials.values())

    # ---- reading and writing ------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path | None = None, preset: str = "default", **overrides: Any) -> StudySpec:
        """A study file (or the packaged `preset`) with `overrides` (field name -> value) on top."""
        document = _read_study(Path(path)) if path is not None else _parse_toml(_preset_text(preset), preset)
        return cls.from_dict(document, **overrides)

    @classmethod
    def from_dict(cls, document: dict, **overrides: Any) -> StudySpec:
        values: dict[str, Any] = {}
        sections = {"grid": (*AXES, "method_mask_ratios"), "trial": TRIAL_SETTINGS, "resources": RESOURCES}
        for key, value in document.items():
            if key in sections:
                _check_keys(key, value, sections[key])
                values.update(value)
            elif key in ("base", "eval"):
                config_type = BaseConfig if key == "base" else EvalConfig
                _check_keys(key, value, [f.name for f in fields(config_type)])
                values[key] = config_type(**value)
            elif key in ("name", "storage", "cache"):
                values[key] = value
            else:
                raise ValueError(f"unknown study setting {key!r}; expected {', '.join([*sections, 'base', 'eval', 'name', 'storage', 'cache'])}")
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))

    @classmethod
    def from_cli(
        cls,
        study_file: str | Path | None = None,
        *,
        quick: bool = False,
        dataset: str | None = None,
        method: str | None = None,
        mask_ratio: str | None = None,
        paraphrases: str | None = None,
        order: str | None = None,
        replay: str | None = None,
        seeds: str | None = None,
        model: str | None = None,
        base_threshold: float | None = None,
        epochs: int | None = None,
        address: str | None = None,
        cpus_per_trial: int | None = None,
        gpus_per_trial: float | None = None,
        max_concurrent: int | None = None,
        storage: str | None = None,
        name: str | None = None,
        resume: bool = False,
        verbose: bool = False,
    ) -> StudySpec:
        """`maskft ablate`'s flags: a study file or preset, axis flags (comma-separated) and
        `epochs` (the trials' length: the one setting a study most often needs changed) on top.

        With `resume` the study is the one saved in STORAGE/NAME/study.toml; only where and
        how it runs (address, resources, verbosity) may change.
        """
        axes = {
            "datasets": parse_axis(dataset, str), "methods": parse_axis(method, str),
            "mask_ratios": parse_axis(mask_ratio, str), "paraphrases": parse_axis(paraphrases, int),
            "orders": parse_axis(order, str), "replays": parse_axis(replay, float),
            "seeds": parse_axis(seeds, int), "models": parse_axis(model, str),
        }
        runtime = {
            "address": address, "cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial,
            "max_concurrent": max_concurrent, "verbose": verbose or None,
        }
        if study_file is not None and quick:
            raise ValueError("pass either a study file or --quick, not both")
        if resume:
            flags = {**axes, "study file": study_file, "--quick": quick or None, "--base-threshold": base_threshold, "--epochs": epochs}
            changed = [flag for flag, value in flags.items() if value is not None]
            if changed:
                raise ValueError(f"--resume continues the saved study as it was; drop {', '.join(changed)}")
            if not name:
                raise ValueError("--resume needs --name of the study to continue")
            saved = Path(storage or cls.storage).expanduser().resolve() / name / "study.toml"
            if not saved.is_file():
                raise ValueError(f"no study {name!r} in {saved.parent.parent}/ to resume")
            return cls.from_toml(saved, **runtime, resume=True)
        preset = "quick" if quick else "default"
        spec = cls.from_toml(study_file, preset, **axes, **runtime, epochs=epochs, storage=storage, name=name)
        if base_threshold is None:
            return spec
        return replace(spec, base=replace(spec.base, threshold=base_threshold))

    def to_toml(self) -> str:
        """The resolved spec as TOML (what `from_toml` reads back to an equal spec)."""
        top = {"name": self.name, "storage": str(Path(self.storage).expanduser().resolve()), "cache": self.cache}
        tables = {
            "grid": {axis: getattr(self, axis) for axis in AXES} | {"method_mask_ratios": self.method_mask_ratios},
            "trial": {name: getattr(self, name) for name in TRIAL_SETTINGS},
            "base": asdict(self.base),
            "eval": asdict(self.eval),
            "resources": {name: getattr(self, name) for name in RESOURCES},
        }
        lines = [f"{key} = {_toml_value(value)}" for key, value in top.items()]
        for table, values in tables.items():
            lines += ["", f"[{table}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None]
        return "\n".join(lines) + "\n"


def parse_axis(text: str | None, kind: Callable[[str], Any]) -> list | None:
    """'0,4,9' -> [0, 4, 9]; None (flag not given) -> None. A bad value names itself."""
    if text is None:
        return None
    items = [item.strip() for item in str(text).split(",")]
    if not all(items):
        raise ValueError(f"empty value in the list {text!r}")
    try:
        return [kind(item) for item in items]
    except ValueError:
        bad = next(item for item in items if not _parses(item, kind))
        raise ValueError(f"{bad!r} in {text!r} is not a valid {kind.__name__}") from None


def _parses(item: str, kind: Callable[[str], Any]) -> bool:
    try:
        kind(item)
        return True
    except ValueError:
        return False


def _read_study(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A study file as one document: its `extends` parent's tables with its own on top.

    A variant study (one base setting changed, say) then states only what differs, and
    every study that extends the same parent changes with it."""
    path = path.resolve()
    if path in chain:
        raise ValueError(f"{path}: `extends` loops back to itself ({' -> '.join(p.name for p in (*chain, path))})")
    if not path.is_file():
        raise ValueError(f"{path}: no such study file" + (f" (extended by {chain[-1]})" if chain else ""))
    document = _parse_toml(path.read_text(), path)
    parent = document.pop("extends", None)
    if parent is None:
        return document
    if not isinstance(parent, str) or not parent:
        raise ValueError(f"{path}: `extends` must be the path of another study file")
    merged = _read_study(path.parent / parent, (*chain, path))
    for key, value in document.items():
        both_tables = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = {**merged[key], **value} if both_tables else value
    return merged


def _parse_toml(text: str, source: Any) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{source}: not valid TOML ({e})") from None


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def _check_keys(section: str, table: Any, allowed: tuple[str, ...] | list[str]) -> None:
    if not isinstance(table, dict):
        raise ValueError(f"[{section}] must be a table")
    unknown = [key for key in table if key not in allowed]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r} in [{section}]; expected one of {', '.join(allowed)}")


def _preset_text(preset: str) -> str:
    """A packaged study (installed as maskft package data; the repo's studies/ in a checkout)."""
    if preset not in PRESET_FILES:
        raise ValueError(f"unknown study preset {preset!r}; choose from {', '.join(PRESET_FILES)}")
    try:
        return importlib.resources.files("maskft").joinpath("studies", PRESET_FILES[preset]).read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return (Path(__file__).resolve().parent.parent / "studies" / PRESET_FILES[preset]).read_text()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")
