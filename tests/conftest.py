"""Shared fixtures: a micro dataset and a micro "downloaded" checkpoint, made once per session,
and hand-made study folders."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import polars as pl
import pytest

from maskft.ablate.spec import StudySpec
from maskft.ablate.status import StatusFile
from maskft.ablate.store import StudyStore

from maskft.datasets import namedesc
from maskft.datasets.chat import ChatFormat
from maskft.datasets.schema import KnowledgeData
from maskft.datasets.tokenizer import build_tokenizer, save_tokenizer
from maskft.trainers.models import build_model, save_model
from maskft.trainers.results import conform


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "nd"
    namedesc.generate(seed=0, n_base=10, n_inject=6, n_paraphrases=3).save(out)
    return out


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, dataset_dir) -> Path:
    """A user's own downloaded checkpoint, as far as maskft can tell: weights + tokenizer."""
    data = KnowledgeData.load(dataset_dir)
    tok = build_tokenizer(data.documents["text"].to_list() + data.questions["question"].to_list(), vocab_size=600)
    fmt = ChatFormat.from_tokenizer(tok)
    model = build_model("micro", len(tok), bos_id=fmt.bos_id, eos_id=fmt.eos_id, pad_id=fmt.pad_id)
    out = tmp_path_factory.mktemp("ckpt") / "model"
    save_model(model, out)
    save_tokenizer(tok, out)
    return out




class StudyFolders:
    """Hand-made study folders as a driver leaves them (study.toml, results, status.json),
    for the readers of a study (snapshot, TUI) to be tested without Ray."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage

    @staticmethod
    def rows(trial, epoch: int, forward: float, backward: float) -> pl.DataFrame:
        """One evaluation point of `trial` (a TrialConfig): the same accuracy on val and test."""
        point = {"trial_id": trial.trial_id, "dataset": trial.dataset, "method": trial.method, "mask_ratio": trial.mask_ratio,
                 "paraphrases": 0, "order": "same", "replay": 0.0, "model": "tiny", "seed": trial.seed, "epoch": epoch,
                 "step": 10 * epoch, "docs_seen": 60 * epoch, "tokens_seen": 900 * epoch, "wall_s": float(epoch), "loss": 1.0}
        return conform(pl.DataFrame([
            {**point, "population": "inject", "split": split, "direction": d, "group": "g", "n": 10, "accuracy": acc,
             "exact_match": 0.0}
            for split in ("val", "test") for d, acc in (("forward", forward), ("backward", backward))
        ]))

    def start(self, name: str, methods=("ar", "masked"), seeds=(0,)) -> tuple[StudySpec, StudyStore, StatusFile]:
        """A study whose driver has validated the grid and started no trial yet."""
        spec = StudySpec(storage=str(self.storage), name=name, methods=list(methods), seeds=list(seeds),
                         cache=str(self.storage / "cache"))
        store = StudyStore(spec)
        ticks = itertools.count(time.time(), 5.0)  # 5 s between events: no status write is throttled away
        status = StatusFile(store.dir, clock=lambda: next(ticks))
        status.study_started(spec, spec.trials())
        return spec, store, status

    def finished(self, name: str, seeds=(0, 1)) -> StudyStore:
        """Every trial reported twice and finished: ar forward only, masked both ways."""
        spec, store, status = self.start(name, seeds=seeds)
        for trial in spec.trials():
            status.trial_started(trial.trial_id)
            for epoch, (fwd, bwd) in [(0, (0.0, 0.0)), (8, (0.9, 0.05) if trial.method == "ar" else (0.8, 0.7))]:
                store.add_point(trial.trial_id, self.rows(trial, epoch, fwd, bwd))
                status.trial_reported(trial.trial_id, self.rows(trial, epoch, fwd, bwd))
            status.trial_finished(trial.trial_id, {})
        status.study_finished({"interrupted": False})
        return store


@pytest.fixture
def studies(tmp_path) -> StudyFolders:
    return StudyFolders(tmp_path)
