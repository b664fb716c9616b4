"""Model FLOPs utilisation of `train()` on this CPU. Prints the MFU against the goal.

MFU = 6 · N · tokens/s ÷ peak, with N the parameters that do matmuls per token (all but
the input embedding, a lookup; attention-score FLOPs are left out, as in the usual 6N
estimate). The peak is the fp32 rate of large square matmuls measured *between the
training steps* (best of a few per step, median over the steps), so both sides see the
same load on this shared machine. Run: python bench/mfu.py
"""

from __future__ import annotations

import statistics
import time

import torch

from trainer_speed import TIMED_STEPS, Speed, ar_objective, fresh_model, setup, time_train

MATMUL_SIZE, MATMUL_REPEATS = 2048, 3


class MatmulPeak:
    """fp32 FLOP/s of a MATMUL_SIZE² product: best of MATMUL_REPEATS per measurement."""

    def __init__(self) -> None:
        self.a, self.b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
        self.rates: list[float] = []

    def measure(self) -> None:
        best = float("inf")
        for _ in range(MATMUL_REPEATS):
            start = time.perf_counter()
            self.a @ self.b
            best = min(best, time.perf_counter() - start)
        self.rates.append(2 * MATMUL_SIZE**3 / best)


def matmul_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()


def main() -> None:
    fmt, docs = setup()
    peak = MatmulPeak()
    speed = Speed.of(time_train(ar_objective(fmt), docs, between_steps=peak.measure))
    flops = statistics.median(peak.rates[-TIMED_STEPS:])
    n = matmul_parameters(fresh_model())
    print(f"fp32 matmul peak: {flops / 1e9:.0f} GFLOP/s (median over steps; best seen {max(peak.rates) / 1e9:.0f})")
    print(f"train(): {speed.tokens_per_s:,.0f} tokens/s with N = {n / 1e6:.2f}M matmul parameters (tiny preset)")
    print(f"CPU MFU: {100 * 6 * n * speed.tokens_per_s / flops:.0f}% (goal >= 60%)")


if __name__ == "__main__":
    main()
