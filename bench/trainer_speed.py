"""Does `train()` cost anything over a bare PyTorch loop? Prints the tokens/s ratio.

Both loops train the tiny preset on the same 32 × 128-token batches (built by the same AR
objective) with AdamW and gradient clipping; only the loop around them differs
(Accelerate, schedule, shuffling, bookkeeping). Each is measured twice, interleaved; the
median step time of the faster run counts, because the machine is shared. Run: python bench/trainer_speed.py
The other benches import the shared setup from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from maskft.datasets.chat import ChatFormat
from maskft.datasets.tokenizer import build_tokenizer
from maskft.trainers.loop import TrainConfig, train, weight_decay_groups
from maskft.trainers.models import build_model
from maskft.trainers.objectives import make_objective

THREADS = 2
BATCH, SEQ_LEN, VOCAB = 32, 128, 4096
WARMUP_STEPS, TIMED_STEPS = 3, 10


@dataclass
class Speed:
    seconds_per_step: float
    tokens_per_step: float
    docs_per_step: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.seconds_per_step

    @property
    def seconds_per_doc(self) -> float:
        return self.seconds_per_step / self.docs_per_step


def setup(seed: int = 0):
    """Chat format, an objective factory and 2 batches' worth of random documents that make
    exactly SEQ_LEN-token plain AR sequences."""
    torch.set_num_threads(THREADS)
    fmt = ChatFormat.from_tokenizer(build_tokenizer(["Tell me a fact.", "Here is the recovered text:"] * 3, vocab_size=300))
    g = torch.Generator().manual_seed(seed)
    docs = torch.randint(len(fmt.tokenizer), VOCAB, (2 * BATCH, SEQ_LEN - 2), generator=g).tolist()
    return fmt, docs


def ar_objective(fmt):
    return make_objective("ar", None, fmt, VOCAB, document_format="plain")


def fresh_model(seed: int = 0):
    return build_model("tiny", VOCAB, seed=seed)


def measure_train(objective, docs, precision: str = "fp32") -> Speed:
    """Time TIMED_STEPS steps of `train()` after WARMUP_STEPS, read from its own callbacks."""
    steps = WARMUP_STEPS + TIMED_STEPS
    marks = []
    config = TrainConfig(lr=3e-4, batch_size=BATCH, epochs=steps * BATCH / len(docs), precision=precision, log_every=1)
    train(fresh_model(), objective, docs, config, on_step=lambda s: marks.append((time.perf_counter(), s.tokens_seen, s.docs_seen)))
    times, tokens, seen = zip(*marks[WARMUP_STEPS - 1 :])
    return _speed(times, tokens[-1] - tokens[0], seen[-1] - seen[0])


def measure_plain(objective, docs) -> Speed:
    """The same work in the loop anyone would write by hand."""
    model = fresh_model()
    optimizer = torch.optim.AdamW(weight_decay_groups(model, 0.1), lr=3e-4, betas=(0.9, 0.95))
    generator = torch.Generator().manual_seed(0)
    model.train()
    times, tokens = [], 0
    for step in range(WARMUP_STEPS + TIMED_STEPS):
        first = (step * BATCH) % len(docs)
        batch = objective.build_batch(docs[first : first + BATCH], 0.0, generator)
        tokens += int(batch["attention_mask"].sum()) if step >= WARMUP_STEPS else 0
        loss = objective.loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= WARMUP_STEPS - 1:
            times.append(time.perf_counter())
    return _speed(times, tokens, TIMED_STEPS * BATCH)


def _speed(step_ends: list[float], tokens: int, docs: int) -> Speed:
    """Per-step figures from the median step time: robust to another process's bursts."""
    durations = torch.tensor(step_ends).diff()
    return Speed(durations.median().item(), tokens / len(durations), docs / len(durations))


def main() -> None:
    fmt, docs = setup()
    objective = ar_objective(fmt)
    plain, trainer = [], []
    for _ in range(2):
        plain.append(measure_plain(objective, docs).tokens_per_s)
        trainer.append(measure_train(objective, docs).tokens_per_s)
    print(f"plain PyTorch loop: {max(plain):,.0f} tokens/s (runs: {', '.join(f'{x:,.0f}' for x in plain)})")
    print(f"train(): {max(trainer):,.0f} tokens/s (runs: {', '.join(f'{x:,.0f}' for x in trainer)})")
    print(f"trainer/plain tokens/s ratio: {max(trainer) / max(plain):.2f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
