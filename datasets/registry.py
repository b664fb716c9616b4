"""Name → dataset: built-in generators (generated once, cached on disk) or dataset directories.

The cache key includes a hash of the generator's source and of the maskft modules it
draws on, so editing a generator never serves stale data. Every write goes to a private
staging directory that is renamed into place, so readers never see a half-written
dataset and two processes generating the same dataset at once both end up with one
complete copy.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from maskft.datasets.schema import DataError, KnowledgeData

GENERATORS = {
    "namedesc": "maskft.datasets.namedesc",
    "bio": "maskft.datasets.bio",
    "wiki": "maskft.datasets.wiki",
}


def default_cache_dir() -> Path:
    return Path(os.environ.get("MASKFT_CACHE") or Path.home() / ".cache" / "maskft")


def _generator_module(name: str) -> ModuleType:
    if name not in GENERATORS:
        raise DataError(f"unknown generator {name!r}: use {', '.join(GENERATORS)}")
    return importlib.import_module(GENERATORS[name])


def source_hash(module: ModuleType) -> str:
    """Hash of the module's file and, transitively, of every maskft module it uses."""
    files: dict[str, Path] = {}

    def visit(mod: ModuleType) -> None:
        if mod.__name__ in files or not getattr(mod, "__file__", None):
            return
        files[mod.__name__] = Path(mod.__file__)
        for value in vars(mod).values():
            dependency = _maskft_module_of(value)
            if dependency is not None:
                visit(dependency)

    visit(module)
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].read_bytes())
    return h.hexdigest()[:12]


def _maskft_module_of(value: object) -> ModuleType | None:
    """The maskft module `value` is or was defined in (None for anything else)."""
    if isinstance(value, ModuleType):
        module = value
    else:
        owner = getattr(value, "__module__", None)
        module = sys.modules.get(owner) if isinstance(owner, str) else None
    return module if module is not None and module.__name__.startswith("maskft.") else None


def cache_path(name: str, seed: int = 0, cache_dir: Path | None = None) -> Path:
    module = _generator_module(name)
    return Path(cache_dir or default_cache_dir()) / "datasets" / f"{name}-seed{seed}-{source_hash(module)}"


def generate(name: str, seed: int = 0, options: dict[str, str] | None = None) -> KnowledgeData:
    """Run a built-in generator, recording what made the data in its meta (each generator
    records its own arguments). `options` are those arguments as strings (`maskft data
    generate --set`)."""
    module = _generator_module(name)
    kwargs = generator_options(module, options or {})
    data = module.generate(seed=seed, **kwargs)
    if not isinstance(data, KnowledgeData):
        raise TypeError(f"{module.__name__}.generate returned {type(data).__name__}, not KnowledgeData")
    data.meta.update({"generator": name, "seed": seed, "source_hash": source_hash(module)})
    return data


def generator_options(module: ModuleType, options: dict[str, str]) -> dict:
    """Strings → the generator's keyword arguments, typed after their defaults."""
    params = {k: p.default for k, p in inspect.signature(module.generate).parameters.items() if k != "seed"}
    kwargs = {}
    for key, text in options.items():
        if key not in params:
            raise DataError(f"{module.__name__.rsplit('.', 1)[-1]} has no option {key!r}: use {', '.join(params)}")
        kwargs[key] = _parse_option(key, text, type(params[key]))
    return kwargs


def _parse_option(key: str, text: str, kind: type) -> object:
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise DataError(f"option {key} takes true or false, got {text!r}")
        return text.lower() in ("true", "1")
    try:
        return kind(text)
    except ValueError:
        raise DataError(f"option {key} takes a{'n' if kind is int else ''} {kind.__name__}, got {text!r}") from None


def resolve_dataset(spec: str, seed: int = 0, cache_dir: Path | None = None) -> KnowledgeData:
    """A generator name (generated on first use, then read from the cache) or a dataset directory."""
    if spec in GENERATORS:
        target = cache_path(spec, seed, cache_dir)
        if (target / "meta.json").is_file():
            return KnowledgeData.load(target)
        data = generate(spec, seed)
        _publish(data, target, replace=False)
        return data
    if Path(spec).is_dir():
        return KnowledgeData.load(spec)
    raise DataError(f"unknown dataset {spec!r}: use {', '.join(GENERATORS)} or a dataset directory")


def check_output_dir(out: Path, force: bool = False) -> None:
    """Refuse to write over anything unless `force`: a missing or empty directory is fine."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DataError(f"{out} is not empty: choose another --out or pass --force to replace it")


def write_dataset(data: KnowledgeData, out: Path, force: bool = False) -> Path:
    """Save `data` as the dataset directory `out`, which ends up holding either its old
    contents or the complete new dataset, never a mix."""
    check_output_dir(out, force)
    return _publish(data, Path(out), replace=True)


def generate_to(name: str, out: Path, seed: int = 0, force: bool = False, options: dict[str, str] | None = None) -> KnowledgeData:
    """Generate a dataset into `out` (for `maskft data generate`); the data is generated
    before anything on disk is touched, so a failing generator leaves `out` as it was."""
    check_output_dir(out, force)
    data = generate(name, seed, options)
    write_dataset(data, out, force)
    return data


def _publish(data: KnowledgeData, target: Path, replace: bool) -> Path:
    """Save into a private staging dir, then rename onto `target`.

    With `replace` an existing `target` is swapped out and deleted afterwards; without it
    an existing complete dataset at `target` (another process won the race) is kept.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        written = data.save(staging / "dataset")
        if replace and target.exists():
            previous = target.rename(staging / "previous")
            try:
                written.rename(target)
            except OSError:
                previous.rename(target)
                raise
        else:
            try:
                written.rename(target)
            except OSError:
                if not (target / "meta.json").is_file():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
