"""What masked fine-tuning costs per document against AR. Prints the ratio.

Both objectives train the tiny preset on the same 32 documents per step, 126 tokens each
(the paper's Wiki articles are 110–125 tokens): AR as the "Tell me a fact." chat, masked
as the recovery chat, which holds the document twice (corrupted prompt + target) plus the
instruction. The paper measured 2.0× the FLOPs and 1.2× the wall time per step on H100s
(paper-notes §6, Table 10). The two run in the same loop code, alternating step by step
so they see the same load on this shared machine (bench/trainer_speed.py shows that
loop and `train()` run at the same speed). Run: python bench/masked_cost.py
"""

from __future__ import annotations

from trainer_speed import TIMED_STEPS, VOCAB, WARMUP_STEPS, PlainLoop, Speed, setup

from maskft.trainers.objectives import make_objective


def main() -> None:
    fmt, docs = setup()
    loops = {
        "ar": PlainLoop(make_objective("ar", None, fmt, VOCAB), docs),
        "masked": PlainLoop(make_objective("masked", "random", fmt, VOCAB), docs),
    }
    steps: dict[str, list] = {name: [] for name in loops}
    for _ in range(WARMUP_STEPS + TIMED_STEPS):
        for name, loop in loops.items():
            steps[name].append(loop.step())
    speeds = {name: Speed.of(s) for name, s in steps.items()}
    for name, speed in speeds.items():
        tokens_per_doc = speed.tokens_per_step / speed.docs_per_step
        print(f"{name}: {1e3 * speed.seconds_per_doc:.1f} ms per document, {tokens_per_doc:.0f} tokens per document")
    ratio = speeds["masked"].seconds_per_doc / speeds["ar"].seconds_per_doc
    print(f"masked/ar seconds per document: {ratio:.2f} (paper: ~2x)")


if __name__ == "__main__":
    main()
