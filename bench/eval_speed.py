"""How much dearer is evaluating a dLLM than an AR model? Prints the eval-time ratio.

Both evaluate the same 64 namedesc inject questions through `evaluate` (chat prompts,
batch 64) with tiny-preset models of random weights: AR greedy with 32 new tokens
against LLaDA's sampler with gen_length 32, block 4, one token per step. Random weights
practically never end an answer, so this is the worst case: every answer runs to full length (a
trained model's answers end early and both decoders stop there). Each is timed twice,
interleaved, and the faster run counts, because the machine is shared.
With `--trained` both are the namedesc base models of the base stage (loaded from the
cache, or built first: minutes), whose answers end where they should: the realistic case.
Run: python bench/eval_speed.py [--trained] [--threads N] [--gen-length G] [--steps S]
(`--gen-length`/`--steps` change the dLLM sampler only, to price cheaper settings.)
"""

from __future__ import annotations

import argparse
import time

import torch

from maskft.datasets import namedesc
from maskft.datasets.chat import ChatFormat
from maskft.datasets.registry import resolve_dataset
from maskft.datasets.tokenizer import build_tokenizer, load_tokenizer
from maskft.trainers.base_stage import BaseConfig, ensure_base
from maskft.trainers.evaluation import EvalConfig, evaluate
from maskft.trainers.models import build_model, count_parameters, load_model

QUESTIONS = 64
GOAL = 3.0


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared; default 1)")
    parser.add_argument("--gen-length", type=int, default=32, help="dLLM generated slots (default 32, as AR's new tokens)")
    parser.add_argument("--steps", type=int, default=None, help="dLLM model calls (default: one token per step)")
    parser.add_argument("--trained", action="store_true", help="use the namedesc base models (built if not cached)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = EvalConfig(max_new_tokens=32, gen_length=args.gen_length, block_length=4, steps=args.steps, batch_size=64)

    if args.trained:
        data = resolve_dataset("namedesc")
        ar_path, dllm_path = (ensure_base(data, BaseConfig(), kind) for kind in ("ar", "dllm"))
        fmt = ChatFormat.from_tokenizer(load_tokenizer(ar_path))
        ar, dllm = load_model(ar_path), load_model(dllm_path)
    else:
        data = namedesc.generate(seed=0)
        fmt = ChatFormat.from_tokenizer(build_tokenizer(data.documents["text"].to_list() + data.questions["question"].to_list()))
        ar, dllm = build_model("tiny", len(fmt.tokenizer)), build_model("tiny", len(fmt.tokenizer), bidirectional=True)
    questions = data.questions_for("inject").sample(QUESTIONS, seed=0)
    prompt_lengths = [len(fmt.prompt(fmt.encode(q))) for q in questions["question"].to_list()]
    vocab = len(fmt.tokenizer)

    def run_ar():
        evaluate(ar, fmt, questions, diffusion=False, config=config)

    def run_dllm():
        evaluate(dllm, fmt, questions, diffusion=True, config=config)

    run_ar()  # warm-up
    ar_s, dllm_s = float("inf"), float("inf")
    for _ in range(2):
        ar_s = min(ar_s, timed(run_ar))
        dllm_s = min(dllm_s, timed(run_dllm))

    print(
        f"{QUESTIONS} questions, prompts {min(prompt_lengths)}-{max(prompt_lengths)} tokens; tiny preset "
        f"{'base models (trained)' if args.trained else '(random weights)'} "
        f"({count_parameters(ar) / 1e6:.1f}M parameters, vocabulary {vocab}); {args.threads} thread(s)"
    )
    print(f"AR greedy ({config.max_new_tokens} new tokens): {ar_s:.2f} s")
    steps = config.steps or config.gen_length
    print(f"dLLM sampler (gen_length {config.gen_length}, block {config.block_length}, {steps} steps): {dllm_s:.2f} s")
    print(f"dllm/ar eval time ratio: {dllm_s / ar_s:.2f} (goal <= {GOAL:g})")


if __name__ == "__main__":
    main()
