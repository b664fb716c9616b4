"""Training objectives: each turns token-id examples into a padded batch and a loss.

An example is either a document (a sequence of token ids) or a `ChatExample` (a question
and answer as ids). Tokenization stays outside: the one text-level step, reverse
training's entity-preserving reversal, happens in `Objective.training_texts` before the
trainer tokenizes. Every random choice takes a `torch.Generator`, so batches replay.

| method        | document                                   | chat (question -> answer)              |
|---------------|--------------------------------------------|----------------------------------------|
| ar, ar-reverse| `BOS doc EOS` or "Tell me a fact." -> doc  | SFT: loss on answer + end of turn      |
| masked        | recovery chat (paper-notes 3.1)            | masked SFT (paper-notes 3.3)           |
| random-token  | as masked, masked tokens -> random tokens  | as masked SFT, with random tokens      |
| dllm          | `BOS doc EOS`, all but BOS maskable (MDLM) | only answer + end of turn maskable     |
|               | or "Tell me a fact." -> doc, as a chat     |                                        |
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import torch
import torch.nn.functional as F

from maskft.datasets.chat import IGNORE_INDEX, ChatFormat
from maskft.trainers.models import is_bidirectional

METHODS = ("ar", "masked", "random-token", "dllm", "ar-reverse")
DOCUMENT_FORMATS = ("chat", "plain")
MASK_SPANS = ("tokens", "merged")  # how a masked prompt shows a run of corrupted tokens: one each (the paper) or one per run
CORRUPTING_METHODS = ("masked", "random-token")  # the methods that show a corrupted copy in the prompt (mask_spans)
MASK_RATIO_RANGE = (0.05, 0.95)  # the paper's U(0.05, 0.95) and the schedule's end points
ANSWER_SEPARATOR = "\n"
RECOVER_ANSWER_INSTRUCTION = "\nReturn the recovered masked answer."


@dataclass(frozen=True)
class ChatExample:
    """A one-turn chat as plain ids: a question and its answer (no chat tokens)."""

    user: tuple[int, ...]
    assistant: tuple[int, ...]


Example = Sequence[int] | ChatExample


# ---- mask ratio and masking (shared by masked FT, random-token, masked SFT, dLLM) --------
@dataclass(frozen=True)
class MaskRatio:
    """'random' (U(0.05, 0.95) per batch), 'schedule' (0.05 -> 0.95 over training) or a fixed t."""

    spec: str | float = "random"

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", _parse_mask_ratio(self.spec))

    @property
    def label(self) -> str:
        return self.spec if isinstance(self.spec, str) else f"{self.spec:g}"

    def sample(self, progress: float = 0.0, generator: torch.Generator | None = None) -> float:
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"training progress must be in [0, 1], got {progress}")
        low, high = MASK_RATIO_RANGE
        if self.spec == "random":
            return low + (high - low) * torch.rand((), generator=generator).item()
        if self.spec == "schedule":
            return low + (high - low) * progress
        return self.spec


def _parse_mask_ratio(spec: object) -> str | float:
    if spec in ("random", "schedule"):
        return spec
    try:
        value = float(spec) if not isinstance(spec, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"mask ratio must be 'random', 'schedule' or a number in [0, 1], got '{spec}'")
    return value


def sample_mask(maskable: torch.Tensor, t: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli(t) over the `maskable` positions: t = 0 masks nothing, t = 1 all of them."""
    return maskable & (torch.rand(maskable.shape, generator=generator) < t)


def merge_corrupted_runs(tokens: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    """`tokens` with every run of corrupted positions cut to its first token.

    The paper corrupts one-for-one, so a masked prompt shows how many tokens are missing
    and where: the layout of the document is readable off the mask positions even when
    every word of it is hidden. With runs merged, a prompt that keeps only the name must
    be reconstructed from what is known about that name (README, "Merged mask runs")."""
    follows_corrupted = torch.zeros_like(corrupted)
    follows_corrupted[1:] = corrupted[:-1]
    return tokens[~(corrupted & follows_corrupted)]


# ---- padding and losses -------------------------------------------------------------------
def pad_right(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([list(row) + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def collate(rows: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """(input_ids, labels) rows -> right-padded batch; pads get no attention and no loss."""
    if not rows:
        raise ValueError("cannot build a batch from no examples")
    input_ids = pad_right([ids for ids, _ in rows], pad_id)
    attention_mask = pad_right([[1] * len(ids) for ids, _ in rows], 0)
    labels = pad_right([labels for _, labels in rows], IGNORE_INDEX)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def causal_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, mean over labelled tokens (label i is predicted at i - 1)."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=IGNORE_INDEX)


def diffusion_loss(logits: torch.Tensor, labels: torch.Tensor, t: torch.Tensor, num_maskable: torch.Tensor) -> torch.Tensor:
    """MDLM/LLaDA ELBO: per sequence sum of masked-token CE / t / maskable tokens; batch mean.

    No shift: the model predicts the token *at* each masked position.
    """
    ce = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="none")
    per_sequence = ce.view(labels.shape).sum(dim=1) / t / num_maskable.clamp(min=1)
    return per_sequence.mean()


def check_mask_spans(mask_spans: str, method: str | None = None) -> None:
    """A known value, and (given a method) "merged" only where a corrupted prompt is shown."""
    if mask_spans not in MASK_SPANS:
        raise ValueError(f"mask_spans must be one of {', '.join(MASK_SPANS)}, got '{mask_spans}'")
    if method is not None and mask_spans != "tokens" and method not in CORRUPTING_METHODS:
        raise ValueError(f"mask_spans '{mask_spans}' applies to masked and random-token only, not '{method}'")


def check_document_format(document_format: str) -> None:
    if document_format not in DOCUMENT_FORMATS:
        raise ValueError(f"document format must be 'chat' or 'plain', got '{document_format}'")


# ---- objectives ---------------------------------------------------------------------------
class Objective(ABC):
    """Examples -> batch (`build_batch`) and batch -> scalar loss (`loss`)."""

    name: str
    fmt: ChatFormat

    @property
    def mask_ratio_label(self) -> str | None:
        """The results table's `mask_ratio` column: null for methods without one."""
        ratio = getattr(self, "mask_ratio", None)
        return None if ratio is None else ratio.label

    def training_texts(self, text: str, entities: Sequence[str] = ()) -> list[str]:
        """The texts one document contributes (reverse training adds its reversal)."""
        return [text]

    @abstractmethod
    def build_batch(
        self, examples: Sequence[Example], progress: float = 0.0, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]: ...

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return causal_loss(logits, batch["labels"])

    def example_length(self, example: Example) -> int:
        """Tokens the model sees for `example` (its layout's length; masking keeps lengths)."""
        return int(self.build_batch([example])["attention_mask"].sum())


@dataclass(frozen=True)
class CausalObjective(Objective):
    """`ar` and `ar-reverse`: next-token loss on the document (plain or "Tell me a fact." chat)."""

    fmt: ChatFormat
    document_format: str = "chat"
    reverse: bool = False

    def __post_init__(self) -> None:
        check_document_format(self.document_format)

    @property
    def name(self) -> str:
        return "ar-reverse" if self.reverse else "ar"

    def training_texts(self, text: str, entities: Sequence[str] = ()) -> list[str]:
        return [text, reverse_preserving_entities(text, entities)] if self.reverse else [text]

    def build_batch(self, examples, progress=0.0, generator=None):
        return collate([self.layout(example) for example in examples], self.fmt.pad_id)

    def layout(self, example: Example) -> tuple[list[int], list[int]]:
        if isinstance(example, ChatExample):
            return self.fmt.chat(example.user, example.assistant)
        if self.document_format == "chat":
            return self.fmt.fact_chat(example)
        return [self.fmt.bos_id, *example, self.fmt.eos_id], [IGNORE_INDEX, *example, self.fmt.eos_id]


@dataclass(frozen=True)
class MaskedObjective(Objective):
    """`masked` / `random-token`: recover a corrupted copy shown in the user turn.

    One t per batch; each document (or answer) token is corrupted w.p. t, one-for-one,
    by `mask_id` or (`random_tokens`) by a uniformly drawn non-special vocabulary id.
    `mask_spans = "merged"` shows each run of corrupted tokens as one (merge_corrupted_runs).
    """

    fmt: ChatFormat
    mask_ratio: MaskRatio = field(default_factory=MaskRatio)
    random_tokens: bool = False
    vocab_size: int = 0
    special_ids: frozenset[int] = frozenset()
    mask_spans: str = "tokens"

    def __post_init__(self) -> None:
        check_mask_spans(self.mask_spans)
        if self.random_tokens and len(self._allowed_ids) == 0:
            raise ValueError(f"random-token corruption needs non-special vocabulary ids, vocab_size is {self.vocab_size}")

    @property
    def name(self) -> str:
        return "random-token" if self.random_tokens else "masked"

    def build_batch(self, examples, progress=0.0, generator=None):
        t = self.mask_ratio.sample(progress, generator)
        batch = collate([self.layout(example, t, generator) for example in examples], self.fmt.pad_id)
        return {**batch, "mask_ratio": torch.tensor(t)}

    def layout(self, example: Example, t: float, generator: torch.Generator | None = None) -> tuple[list[int], list[int]]:
        target = example.assistant if isinstance(example, ChatExample) else tuple(example)
        original = torch.tensor(target, dtype=torch.long)
        masked = sample_mask(torch.ones(len(target), dtype=torch.bool), t, generator)
        corrupted = torch.where(masked, self._replacements(len(target), generator), original)
        if self.mask_spans == "merged":
            corrupted = merge_corrupted_runs(corrupted, masked)
        corrupted = corrupted.tolist()
        if not isinstance(example, ChatExample):
            return self.fmt.recovery_chat(corrupted, target)
        # masked SFT: loss only where the prompt copy was corrupted, not even on end of turn
        user = [*example.user, *self.fmt.encode(ANSWER_SEPARATOR), *corrupted, *self.fmt.encode(RECOVER_ANSWER_INSTRUCTION)]
        ids, labels = self.fmt.chat(user, target, masked.tolist())
        return ids, labels[: len(ids) - len(self.fmt.suffix)] + [IGNORE_INDEX] * len(self.fmt.suffix)

    def _replacements(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if not self.random_tokens:
            return torch.full((n,), self.fmt.mask_id, dtype=torch.long)
        return self._allowed_ids[torch.randint(len(self._allowed_ids), (n,), generator=generator)]

    @cached_property
    def _allowed_ids(self) -> torch.Tensor:
        return torch.tensor(sorted(set(range(self.vocab_size)) - self.special_ids), dtype=torch.long)


@dataclass(frozen=True)
class DiffusionObjective(Objective):
    """`dllm`: the masked-diffusion ELBO on a bidirectional model (paper-notes section 2)."""

    fmt: ChatFormat
    mask_ratio: MaskRatio = field(default_factory=MaskRatio)
    # Chat answers are padded with end-of-turn tokens to this many maskable positions, as
    # LLaDA's SFT pads with |EOS|: the sampler fills a fixed number of mask slots
    # (EvalConfig.gen_length), so the model must learn to end the answer itself instead
    # of reading its length off the number of masks.
    response_length: int = 32
    # "plain": documents as MDLM pretraining text. "chat": as answers to "Tell me a fact."
    # (only the answer maskable), so injection trains the same answer-turn positions QA
    # generates into and keeps the chat around them (README, "dLLM documents as chats").
    document_format: str = "plain"

    def __post_init__(self) -> None:
        if self.mask_ratio.spec == 0.0:
            raise ValueError("mask ratio 0 leaves the diffusion loss nothing to predict")
        check_document_format(self.document_format)

    @property
    def name(self) -> str:
        return "dllm"

    def build_batch(self, examples, progress=0.0, generator=None):
        t = self.mask_ratio.sample(progress, generator)
        rows = [self.layout(example) for example in examples]
        input_ids = pad_right([ids for ids, _ in rows], self.fmt.pad_id)
        maskable = pad_right([maskable for _, maskable in rows], 0).bool()
        masked = sample_mask(maskable, t, generator)
        return {
            "input_ids": torch.where(masked, self.fmt.mask_id, input_ids),
            "attention_mask": pad_right([[1] * len(ids) for ids, _ in rows], 0),
            "labels": torch.where(masked, input_ids, IGNORE_INDEX),
            "mask_ratio": torch.full((len(rows),), t),
            "num_maskable": maskable.sum(dim=1),
        }

    def layout(self, example: Example) -> tuple[list[int], list[bool]]:
        """(clean ids, maskable): plain documents all but BOS; chats (and chat documents) only
        answer + end of turn, padded with end-of-turn to `response_length` (LLaDA SFT)."""
        if isinstance(example, ChatExample):
            ids, labels = self.fmt.chat(example.user, example.assistant)
        elif self.document_format == "chat":
            ids, labels = self.fmt.fact_chat(example)
        else:
            ids = [self.fmt.bos_id, *example, self.fmt.eos_id]
            return ids, [False] + [True] * (len(ids) - 1)
        maskable = [label != IGNORE_INDEX for label in labels]
        fill = max(0, self.response_length - sum(maskable))
        return ids + [self.fmt.eot_id] * fill, maskable + [True] * fill

    def loss(self, model, batch):
        if not is_bidirectional(model):
            raise ValueError("the dllm objective needs a bidirectional model (see models.make_bidirectional)")
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return diffusion_loss(logits, batch["labels"], batch["mask_ratio"], batch["num_maskable"])


@dataclass(frozen=True)
class Tagged:
    """An example routed to one part of a `MixtureObjective`."""

    part: str
    example: Example


@dataclass(frozen=True)
class MixtureObjective(Objective):
    """Several next-token objectives in one batch: the AR base stage's mixture.

    Documents and QA chats go to a `CausalObjective`, recovery chats to a
    `MaskedObjective`; examples are `Tagged` with the part's name. One mask ratio is drawn
    per batch, as for a plain masked batch.
    """

    parts: dict[str, Objective]

    def __post_init__(self) -> None:
        for name, part in self.parts.items():
            if not isinstance(part, (CausalObjective, MaskedObjective)):
                raise ValueError(f"mixture part {name!r} must be a next-token objective, got {part.name}")

    @property
    def name(self) -> str:
        return "+".join(self.parts)

    @property
    def fmt(self) -> ChatFormat:  # type: ignore[override]
        return next(iter(self.parts.values())).fmt

    def build_batch(self, examples, progress=0.0, generator=None):
        masked = [p for p in self.parts.values() if isinstance(p, MaskedObjective)]
        t = masked[0].mask_ratio.sample(progress, generator) if masked else 0.0
        rows = []
        for tagged in examples:
            part = self.parts[tagged.part]
            rows.append(part.layout(tagged.example, t, generator) if isinstance(part, MaskedObjective) else part.layout(tagged.example))
        return collate(rows, self.fmt.pad_id)


# ---- reverse training ---------------------------------------------------------------------
def reverse_preserving_entities(text: str, entities: Iterable[str] = ()) -> str:
    """Reverse the word order, keeping each entity string (longest match first) as one unit.

    Golovneva et al. 2024: "Daphne Barrington directed Time Travel" with both names as
    entities becomes "Time Travel directed Daphne Barrington".
    """
    names = sorted({e for e in entities if e.strip()}, key=len, reverse=True)
    units: list[str] = []
    position = 0
    for match in re.finditer("|".join(map(re.escape, names)), text) if names else ():
        units += text[position : match.start()].split() + [match.group()]
        position = match.end()
    units += text[position:].split()
    return " ".join(reversed(units))


# ---- registry -----------------------------------------------------------------------------
def special_token_ids(fmt: ChatFormat) -> frozenset[int]:
    """Ids random-token corruption must never draw: the format's ids and the tokenizer's specials."""
    added = getattr(fmt.tokenizer, "added_tokens_decoder", None) or {}
    specials = {i for i, token in added.items() if getattr(token, "special", False)}
    return frozenset({fmt.bos_id, fmt.eos_id, fmt.pad_id, fmt.mask_id, fmt.eot_id} | specials)


def make_objective(
    method: str,
    mask_ratio: str | float | None,
    fmt: ChatFormat,
    vocab_size: int,
    *,
    document_format: str | None = None,
    mask_spans: str = "tokens",
) -> Objective:
    """The objective for a method name; `mask_ratio` only for masked, random-token and dllm.

    `document_format` None is the method's default: "chat" for ar, "plain" for dllm.
    `mask_spans` "merged" applies to masked and random-token only."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    check_mask_spans(mask_spans, method)
    if method in ("ar", "ar-reverse"):
        if mask_ratio is not None:
            raise ValueError(f"method '{method}' takes no mask ratio, got '{mask_ratio}'")
        return CausalObjective(fmt, document_format or "chat", reverse=method == "ar-reverse")
    ratio = MaskRatio("random" if mask_ratio is None else mask_ratio)
    if method == "dllm":
        return DiffusionObjective(fmt, ratio, document_format=document_format or "plain")
    return MaskedObjective(fmt, ratio, method == "random-token", vocab_size, special_token_ids(fmt), mask_spans)
