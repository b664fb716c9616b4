"""The one training loop every method uses (AR, masked, random-token, dLLM, base stage).

Methods differ only in their objective (`build_batch` + `loss`), so the optimiser, the
schedule, shuffling, replay mixing, precision and the callbacks live here once. The
recipe is the paper's (paper-notes §2): AdamW with weight decay on everything except
biases and norm weights, betas (0.9, 0.95), clip 1.0, constant LR after a linear warmup
over 2% of the steps. Hugging Face Accelerate supplies device placement, bf16 autocast
and gradient clipping; one `Accelerator` is made per call so runs in one process (tests,
reused Ray actors) cannot inherit each other's precision.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

from maskft.trainers.objectives import Objective

PRECISIONS = ("auto", "fp32", "bf16")
SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    lr: float = 3e-4
    batch_size: int = 16
    epochs: float = 1.0  # fractional epochs end part-way through the last shuffle
    warmup_frac: float = 0.02
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    seed: int = 0
    precision: str = "auto"  # auto: bf16 on a bf16-capable GPU, fp32 on CPU
    log_every: int = 10  # on_step fires every log_every steps; also the loss-averaging window
    group_by_length: bool = False  # batch examples of similar length (less padding on mixed-length data)
    schedule: str = "constant"  # the paper's constant LR after warmup; "cosine" decays to 0 (base stage)

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.epochs > 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"warmup_frac must be in [0, 1), got {self.warmup_frac}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive, got {self.grad_clip}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.log_every < 1:
            raise ValueError(f"log_every must be at least 1, got {self.log_every}")

    def mixed_precision(self) -> str:
        """Accelerate's name for the resolved precision ("no" = fp32)."""
        if self.precision == "auto":
            return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
        return "bf16" if self.precision == "bf16" else "no"


@dataclass
class TrainState:
    """What callbacks see. docs_seen/tokens_seen count the main pool only (not replay):
    they are the x-axis of the data-efficiency curves."""

    epoch: int = 0  # completed epochs
    step: int = 0  # completed optimiser steps
    total_steps: int = 0
    docs_seen: int = 0
    tokens_seen: int = 0  # non-pad input tokens
    loss: float = math.nan  # mean over the last log_every steps
    lr: float = 0.0  # the learning rate of the latest step
    wall_s: float = 0.0
    stopped: bool = False  # should_stop() ended the run early


def train(
    model: torch.nn.Module,
    objective: Objective,
    examples: Sequence[Any],
    config: TrainConfig,
    *,
    replay: tuple[Sequence[Any], float] | None = None,
    on_step: Callable[[TrainState], None] | None = None,
    on_epoch_end: Callable[[TrainState], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainState:
    """Train `model` in place on shuffled epochs of `examples`; return the final state.

    `replay=(pool, fraction)` fills that fraction of every batch with examples from a
    second pool (base-population replay against forgetting), cycled in its own seeded
    order so the main pool's order is the same with or without replay.
    """
    if len(examples) == 0:
        raise ValueError("no training examples")
    n_replay = _replay_count(replay, config.batch_size)
    docs_per_step = config.batch_size - n_replay
    steps_per_epoch = math.ceil(len(examples) / docs_per_step)
    total_steps = max(1, round(config.epochs * steps_per_epoch))

    accelerator = _fresh_accelerator(config.mixed_precision())
    optimizer = torch.optim.AdamW(weight_decay_groups(model, config.weight_decay), lr=config.lr, betas=config.betas)
    warmup = round(config.warmup_frac * total_steps)
    if config.schedule == "cosine":
        scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
    else:
        scheduler = get_constant_schedule_with_warmup(optimizer, num_warmup_steps=warmup)
    prepared, optimizer = accelerator.prepare(model, optimizer)
    # separate streams: the document order never depends on how much randomness batches draw
    shuffle = torch.Generator().manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed + 1)
    replay_order = _endless_order(len(replay[0]), config.seed + 2) if n_replay else None

    state = TrainState(total_steps=total_steps)
    recent_losses: deque[torch.Tensor] = deque(maxlen=config.log_every)
    start = time.perf_counter()
    lengths = torch.tensor([objective.example_length(e) for e in examples]) if config.group_by_length else None

    def epoch_order() -> torch.Tensor:
        order = torch.randperm(len(examples), generator=shuffle)
        return order if lengths is None else _grouped_by_length(order, lengths, docs_per_step, shuffle)

    position, order = 0, epoch_order()
    prepared.train()
    try:
        while state.step < total_steps and not (should_stop is not None and should_stop()):
            main = [examples[i] for i in order[position : position + docs_per_step].tolist()]
            extra = [replay[0][next(replay_order)] for _ in range(n_replay)] if n_replay else []
            batch = objective.build_batch(main + extra, state.step / total_steps, generator)
            state.tokens_seen += int(batch["attention_mask"][: len(main)].sum())
            state.docs_seen += len(main)
            state.lr = scheduler.get_last_lr()[0]
            loss = objective.loss(prepared, {k: v.to(accelerator.device) for k, v in batch.items()})
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(prepared.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            recent_losses.append(loss.detach())
            if on_step is not None and state.step % config.log_every == 0:
                on_step(_snapshot(state, recent_losses, start))
                prepared.train()
            position += docs_per_step
            if position >= len(examples):
                position, order = 0, epoch_order()
                state.epoch += 1
                if on_epoch_end is not None:
                    on_epoch_end(_snapshot(state, recent_losses, start))
                    prepared.train()
        state.stopped = state.step < total_steps
        return _snapshot(state, recent_losses, start)
    finally:
        accelerator.unwrap_model(prepared, keep_fp32_wrapper=False)  # drop the autocast patch on forward
        _reset_accelerate_singletons()


def log_spaced_epochs(total_epochs: int, n_points: int) -> list[int]:
    """Up to `n_points` distinct evaluation epochs ending at `total_epochs`, doubling as the
    paper's 30, 60, ..., 3840 do; squeezed towards 1 when halving would drop below 1."""
    if total_epochs < 1 or n_points < 1:
        raise ValueError(f"need total_epochs >= 1 and n_points >= 1, got {total_epochs} and {n_points}")
    n_points = min(n_points, total_epochs)
    first = max(1.0, total_epochs / 2 ** (n_points - 1))
    ratio = (total_epochs / first) ** (1 / (n_points - 1)) if n_points > 1 else 1.0
    epochs: list[int] = []
    for i in range(n_points):  # the i-th point must leave room for distinct ones on both sides
        nearest = min(max(round(first * ratio**i), i + 1), total_epochs - (n_points - 1 - i))
        epochs.append(max(nearest, epochs[-1] + 1) if epochs else nearest)
    return epochs


def scaled_epochs(base_epochs: int, n_originals: int, k: int) -> int:
    """Epochs for a run with k paraphrases per original that presents as many documents
    as `base_epochs` over the originals alone: base × n / (n × (k + 1)), at least 1."""
    if base_epochs < 1 or n_originals < 1 or k < 0:
        raise ValueError(f"need base_epochs >= 1, n_originals >= 1, k >= 0; got {base_epochs}, {n_originals}, {k}")
    return max(1, round(base_epochs * n_originals / (n_originals * (k + 1))))


# ---- helpers ---------------------------------------------------------------------------


def weight_decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices (linear and embedding weights); biases and norm weights are the 1-D
    parameters and get none."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def _replay_count(replay: tuple[Sequence[Any], float] | None, batch_size: int) -> int:
    if replay is None:
        return 0
    pool, fraction = replay
    if not 0 <= fraction < 1:
        raise ValueError(f"replay fraction must be in [0, 1), got {fraction}")
    n_replay = round(fraction * batch_size)
    if n_replay and len(pool) == 0:
        raise ValueError("replay requested but the replay pool is empty")
    if n_replay >= batch_size:
        raise ValueError(f"replay fraction {fraction} leaves no room for training examples in a batch of {batch_size}")
    return n_replay


def _grouped_by_length(order: torch.Tensor, lengths: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    """Shuffled order -> batches of similar length, in shuffled batch order.

    Within each mega-batch of 16 batches (the shuffle's own neighbourhood, as Hugging
    Face's `group_by_length` does) examples are sorted by length, so a batch pads to
    nearly its own length instead of the longest example's.
    """
    batches: list[torch.Tensor] = []
    for mega in order.split(16 * batch):
        by_length = mega[torch.argsort(lengths[mega], descending=True, stable=True)]
        batches += list(by_length.split(batch))
    return torch.cat([batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()])


def _endless_order(n: int, seed: int) -> Iterator[int]:
    """Indices 0..n-1 in a fresh seeded shuffle each pass, forever."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield from torch.randperm(n, generator=generator).tolist()


def _snapshot(state: TrainState, recent_losses: deque[torch.Tensor], start: float) -> TrainState:
    """A copy for callbacks; the loss tensors are read only here (one device sync per report)."""
    loss = torch.stack(list(recent_losses)).float().mean().item() if recent_losses else math.nan
    return replace(state, loss=loss, wall_s=time.perf_counter() - start)


def _fresh_accelerator(mixed_precision: str) -> Accelerator:
    _reset_accelerate_singletons()
    return Accelerator(mixed_precision=mixed_precision)


def _reset_accelerate_singletons() -> None:
    """Accelerate keeps process-wide state (precision, gradient sync); clear it the way its
    own test cases do so the next run can choose another precision."""
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
