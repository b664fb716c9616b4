"""What masked fine-tuning costs per document against AR. Prints the ratio.

Both objectives train the tiny preset with `train()` on the same 32 documents per step,
126 tokens each (the paper's Wiki articles are 110–125 tokens): AR as the "Tell me a
fact." chat, masked as the recovery chat, which holds the document twice (corrupted
prompt + target) plus the instruction, so about 2× the tokens; the paper measured 2.0×
the FLOPs and 1.2× the wall time per step on H100s (paper-notes §6, Table 10).
Run: python bench/masked_cost.py
"""

from __future__ import annotations

from trainer_speed import VOCAB, measure_train, setup

from maskft.trainers.objectives import make_objective


def main() -> None:
    fmt, docs = setup()
    ar = measure_train(make_objective("ar", None, fmt, VOCAB), docs)
    masked = measure_train(make_objective("masked", "random", fmt, VOCAB), docs)
    for name, speed in (("ar", ar), ("masked", masked)):
        tokens_per_doc = speed.tokens_per_step / speed.docs_per_step
        print(f"{name}: {1e3 * speed.seconds_per_doc:.1f} ms per document, {tokens_per_doc:.0f} tokens per document")
    print(f"masked/ar seconds per document: {masked.seconds_per_doc / ar.seconds_per_doc:.2f} (paper: ~2x)")


if __name__ == "__main__":
    main()
