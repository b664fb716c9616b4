"""`maskft` installs as one package and never shadows Hugging Face `datasets`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_hf_datasets(tmp_path: Path) -> Path:
    """A stand-in for Hugging Face `datasets`: a regular package on sys.path."""
    site = tmp_path / "site"
    (site / "datasets").mkdir(parents=True)
    (site / "datasets" / "__init__.py").write_text("HUGGING_FACE = True\n")
    return site


def run_python(code: str, cwd: Path, pythonpath: list[Path]) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


PROBE = "import datasets, maskft.datasets.schema as s; print(getattr(datasets, 'HUGGING_FACE', False), s.__name__)"


def test_repo_root_on_sys_path_does_not_shadow_hf_datasets(fake_hf_datasets: Path) -> None:
    # `python -c` run from the repo root puts the root first on sys.path, as pytest does.
    assert run_python(PROBE, cwd=ROOT, pythonpath=[fake_hf_datasets]) == "True maskft.datasets.schema"


def test_installed_copy_does_not_shadow_hf_datasets(tmp_path: Path, fake_hf_datasets: Path) -> None:
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(ROOT)],
        check=True, capture_output=True,
    )
    assert not (target / "datasets").exists(), "the wheel must not install a top-level `datasets`"
    assert (target / "maskft" / "datasets" / "schema.py").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = PROBE + "; print(s.__file__)"
    first, path = run_python(probe, cwd=elsewhere, pythonpath=[target, fake_hf_datasets]).splitlines()
    assert first == "True maskft.datasets.schema"
    assert Path(path).is_relative_to(target)
