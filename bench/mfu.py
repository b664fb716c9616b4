"""Model FLOPs utilisation of `train()` on this CPU. Prints the MFU against the goal.

MFU = 6 · N · tokens/s ÷ peak, with N the parameters that do matmuls per token (all but
the input embedding, a lookup) and the peak the best fp32 matmul rate measured in the
same run (large square matmuls, before and after training), so a busy machine lowers
both sides. Attention-score FLOPs are left out, as in the usual 6N estimate.
Run: python bench/mfu.py
"""

from __future__ import annotations

import time

import torch

from trainer_speed import THREADS, ar_objective, fresh_model, measure_train, setup

MATMUL_SIZE, MATMUL_REPEATS = 2048, 6


def matmul_peak_flops(size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> float:
    """Best observed fp32 FLOP/s of a size × size matmul (one warm-up product first)."""
    torch.set_num_threads(THREADS)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def matmul_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()


def main() -> None:
    fmt, docs = setup()
    peak_before = matmul_peak_flops()
    speed = measure_train(ar_objective(fmt), docs)
    peak = max(peak_before, matmul_peak_flops())
    n = matmul_parameters(fresh_model())
    print(f"fp32 matmul peak: {peak / 1e9:.0f} GFLOP/s ({THREADS} threads, best of before/after: {peak_before / 1e9:.0f} before)")
    print(f"train(): {speed.tokens_per_s:,.0f} tokens/s with N = {n / 1e6:.2f}M matmul parameters (tiny preset)")
    print(f"CPU MFU: {100 * 6 * n * speed.tokens_per_s / peak:.0f}% (goal >= 60%)")


if __name__ == "__main__":
    main()
