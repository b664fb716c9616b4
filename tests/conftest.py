"""Shared fixtures: a micro dataset and a micro "downloaded" checkpoint, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskft.datasets import namedesc
from maskft.datasets.chat import ChatFormat
from maskft.datasets.schema import KnowledgeData
from maskft.datasets.tokenizer import build_tokenizer, save_tokenizer
from maskft.trainers.models import build_model, save_model


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


