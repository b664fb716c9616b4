"""Does `train()` cost anything over a bare PyTorch loop? Prints the tokens/s ratio.

Both loops train the tiny preset on the same 32 × 128-token batches (built by the same AR
objective) with AdamW and gradient clipping; only the loop around them differs
(Accelerate, schedule, shuffling, bookkeeping). The machine is shared and its load
swings within seconds, so the two are *interleaved step by step*: every `train()`
callback runs one step of the plain loop, timed apart from the trainer's own steps, and
median step times are compared. Run: python bench/trainer_speed.py
The other benches import the shared setup and timers from here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
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


@dataclass(frozen=True)
class Step:
    seconds: float
    tokens: int
    docs: int


@dataclass(frozen=True)
class Speed:
    """Median step time over the timed steps, mean tokens and documents per step."""

    seconds_per_step: float
    tokens_per_step: float
    docs_per_step: float

    @classmethod
    def of(cls, steps: list[Step]) -> Speed:
        timed = steps[-TIMED_STEPS:]
        return cls(
            statistics.median(s.seconds for s in timed),
            statistics.fmean(s.tokens for s in timed),
            statistics.fmean(s.docs for s in timed),
        )

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.seconds_per_step

    @property
    def seconds_per_doc(self) -> float:
        return self.seconds_per_step / self.docs_per_step


def setup(seed: int = 0):
    """Chat format and 2 batches of random documents that make SEQ_LEN-token plain AR rows."""
    torch.set_num_threads(THREADS)
    fmt = ChatFormat.from_tokenizer(build_tokenizer(["Tell me a fact.", "Here is the recovered text:"] * 3, vocab_size=300))
    g = torch.Generator().manual_seed(seed)
    docs = torch.randint(len(fmt.tokenizer), VOCAB, (2 * BATCH, SEQ_LEN - 2), generator=g).tolist()
    return fmt, docs


def ar_objective(fmt):
    return make_objective("ar", None, fmt, VOCAB, document_format="plain")


def fresh_model(seed: int = 0):
    return build_model("tiny", VOCAB, seed=seed)


class PlainLoop:
    """The loop anyone would write by hand, one timed step per call."""

    def __init__(self, objective, docs) -> None:
        self.objective, self.docs, self.position = objective, docs, 0
        self.model = fresh_model()
        self.optimizer = torch.optim.AdamW(weight_decay_groups(self.model, 0.1), lr=3e-4, betas=(0.9, 0.95))
        self.generator = torch.Generator().manual_seed(0)
        self.model.train()

    def step(self) -> Step:
        start = time.perf_counter()
        examples = self.docs[self.position : self.position + BATCH]
        self.position = (self.position + BATCH) % len(self.docs)
        batch = self.objective.build_batch(examples, 0.0, self.generator)
        loss = self.objective.loss(self.model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return Step(time.perf_counter() - start, int(batch["attention_mask"].sum()), len(examples))


def time_train(objective, docs, between_steps: Callable[[], None] = lambda: None) -> list[Step]:
    """Steps of `train()`, each timed from the end of one callback to the start of the next;
    `between_steps` runs inside every callback, outside the timings."""
    steps: list[Step] = []
    last: dict = {}

    def on_step(state) -> None:
        now = time.perf_counter()
        if last:
            steps.append(Step(now - last["end"], state.tokens_seen - last["tokens"], state.docs_seen - last["docs"]))
        between_steps()
        last.update(end=time.perf_counter(), tokens=state.tokens_seen, docs=state.docs_seen)

    total = WARMUP_STEPS + TIMED_STEPS + 1  # the first step has no start mark
    config = TrainConfig(lr=3e-4, batch_size=BATCH, epochs=total * BATCH / len(docs), precision="fp32", log_every=1)
    train(fresh_model(), objective, docs, config, on_step=on_step)
    return steps


def main() -> None:
    fmt, docs = setup()
    objective = ar_objective(fmt)
    plain = PlainLoop(objective, docs)
    plain_steps: list[Step] = []
    trainer = Speed.of(time_train(objective, docs, between_steps=lambda: plain_steps.append(plain.step())))
    baseline = Speed.of(plain_steps)
    print(f"plain PyTorch loop: {baseline.tokens_per_s:,.0f} tokens/s")
    print(f"train(): {trainer.tokens_per_s:,.0f} tokens/s")
    print(f"trainer/plain tokens/s ratio: {trainer.tokens_per_s / baseline.tokens_per_s:.2f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
