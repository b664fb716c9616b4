"""Stored but not extractable? Inject one trial, then ask the model two ways about each fact.

    python bench/extraction.py --dataset bio [--method ar] [--epochs 100] [--base-threshold 0.8]

Issue 6's misses (namedesc D2N forward, every bio and wiki forward fact) could mean the
documents were never learned, or learned but not reachable from a question. This runs
the trial (same defaults as `studies/core.toml`), then prompts the trained model with
each inject document cut just before each of its facts (as a "Tell me a fact." turn, the
AR training layout) and counts a hit when the greedy continuation contains the fact.
It prints that completion rate per fact position beside the trial's QA accuracy at the
last point: completion near 1 with QA near the floor means storage without extraction.
A fact right after an opening that many documents share (namedesc's "Known for being")
has no cue that tells the documents apart: its position's low rate measures nothing.
The paper's pretrained 8B models bring the extraction skill; a tiny model has to get it
from its base stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import polars as pl
import torch

from maskft.datasets.chat import FACT_PROMPT
from maskft.trainers.base_stage import BaseConfig
from maskft.trainers.generation import greedy_generate
from maskft.trainers.trial import TrialConfig, prepare, run_trial


def completion_prompts(documents: pl.DataFrame, fmt) -> tuple[list[list[int]], list[str], list[int]]:
    """For every document and every fact string found after its start: the fact-chat prompt
    with the document up to that fact, the fact, and the fact's position in the document."""
    head = fmt.prompt(fmt.encode(FACT_PROMPT))
    prompts, facts, positions = [], [], []
    for text, entities in documents.select("text", "entities").iter_rows():
        for position, fact in enumerate(json.loads(entities or "[]")):
            at = text.find(fact)
            if at <= 0:  # not in the text, or the document opens with it: nothing to cue from
                continue
            prompts.append([*head, *fmt.encode(text[:at].rstrip())])
            facts.append(fact)
            positions.append(position)
    return prompts, facts, positions


def _progress(kind: str, payload) -> None:
    if kind in ("stage", "eval"):
        detail = payload if kind == "stage" else f"evaluated epoch {payload['epoch'][0]}"
        print(detail, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="namedesc")
    parser.add_argument("--method", default="ar", choices=("ar", "masked", "random-token"))
    parser.add_argument("--mask-ratio", default=None, help="masked/random-token only (default: random)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--base-threshold", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        base = BaseConfig() if args.base_threshold is None else BaseConfig(threshold=args.base_threshold)
        config = TrialConfig(
            dataset=args.dataset, method=args.method, mask_ratio=args.mask_ratio, epochs=args.epochs,
            eval_points=1, retention_questions=0, seed=args.seed, base=base,
        )
        prepared = prepare(config, on_event=_progress)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as out:
        summary = run_trial(config, out_dir=Path(out), prepared=prepared, on_event=_progress)
    fmt, model = prepared.fmt, prepared.model
    originals = prepared.data.originals("inject")
    prompts, facts, positions = completion_prompts(originals, fmt)
    model.eval()
    with torch.no_grad():
        outputs = greedy_generate(
            model, prompts, max_new_tokens=16, stop_ids=fmt.stop_ids, pad_id=fmt.pad_id, batch_size=64
        )
    hits = [fact in fmt.decode(ids) for fact, ids in zip(facts, outputs)]
    table = (
        pl.DataFrame({"fact position": positions, "hit": hits})
        .group_by("fact position")
        .agg(pl.col("hit").mean().round(3).alias("completion"), pl.len().alias("n"))
        .sort("fact position")
    )
    qa = summary["headline"][0]
    print(f"{args.dataset} {args.method} after {args.epochs} epochs, seed {args.seed}")
    print(f"QA (test, last point): forward {qa['last_forward']:.2f}, backward {qa['last_backward']:.2f}")
    print(f"document completion: {sum(hits) / len(hits):.2f} of {len(hits)} facts")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
