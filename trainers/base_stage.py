"""The base stage of the tiny-model protocol: the stand-in for a pretrained instruct model.

No weights can be downloaded, so before any injection a tiny model learns the language,
the document styles and the QA skill from the *base* population (DESIGN.md "Running on a
CPU"). It is cached on disk under a hash of everything that shapes it (dataset content,
this config, the code version), built under a file lock and moved into place atomically,
so concurrent trials share one copy and never see a half-written one.

Layout of one cache entry `<cache>/base/<dataset>-<key>/`:
    tokenizer/   the dataset's tokenizer (shared by the AR and dLLM bases)
    ar/          AR base checkpoint + report.json
    dllm/        dLLM base checkpoint + report.json (AR-initialised by default)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
from filelock import FileLock

from maskft.datasets.chat import FACT_PROMPT, RECOVER_INSTRUCTION, RECOVER_PREFIX, ChatFormat
from maskft.datasets.registry import default_cache_dir
from maskft.datasets.schema import KnowledgeData
from maskft.datasets.tokenizer import build_tokenizer, load_tokenizer, save_tokenizer
from maskft.trainers.evaluation import EvalConfig, aggregate, evaluate
from maskft.trainers.loop import TrainConfig, TrainState, train
from maskft.trainers.models import build_model, load_model, make_bidirectional, save_model
from maskft.trainers.objectives import (
    CausalObjective,
    ChatExample,
    DiffusionObjective,
    MaskedObjective,
    MixtureObjective,
    Tagged,
)

CODE_VERSION = 4  # bump when base-stage training changes meaning, to invalidate caches
DLLM_INITS = ("ar", "scratch")
ANSWER_STYLES = ("short", "passage", "cue-first")
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
LATER_FIELDS = {"answer_style": "short", "recovery_shuffles": 0}  # fields added after caches existed, at their defaults
PLATEAU_GAIN = 0.01  # base QA gained between two checks below which training has levelled off
Progress = Callable[[str, TrainState], None]


class BaseStageError(ValueError):
    """The base model is not good enough to hand to trials (one-line message)."""


@dataclass(frozen=True)
class BaseConfig:
    """How the base models are made. Defaults follow the CPU prototype in DESIGN.md."""

    preset: str = "tiny"
    seed: int = 0
    vocab_size: int = 4096
    paraphrases: int = 1  # per order, per base document: style variety without swamping the epoch
    questions_per_group: int = 2  # QA chats per (entity, question group): the skill, not every wording
    answer_style: str = "short"  # QA chat answers: "short" (the gold answer), "passage" or "cue-first" (see answer_texts)
    epochs: int = 120  # at most: the AR base trains until base QA reaches `target` (checked every `check_every`)
    check_every: int = 5  # namedesc reaches .95 in ~15 epochs, bio and wiki need several times more
    target: float = 0.95
    lr: float = 1e-3
    batch_size: int = 32
    recovery_chats: bool = True  # masked-recovery chats in the AR base mixture (a control the paper cannot run)
    recovery_shuffles: int = 0  # word-shuffled copies of each base document as extra recovery chats (see base_examples)
    dllm_init: str = "ar"  # "ar": adapt the AR base with the diffusion loss (A2D); "scratch"
    dllm_epochs: int = 24  # namedesc, cosine: base QA .99/.99 after 24 epochs (constant LR: .88 after 30)
    dllm_lr: float = 1e-3
    threshold: float = 0.9  # minimum base-QA accuracy (mean of forward and backward) to hand over
    eval_questions: int = 256  # base questions sampled for the check

    def __post_init__(self) -> None:
        if self.answer_style not in ANSWER_STYLES:
            raise ValueError(f"base answer_style must be one of {', '.join(ANSWER_STYLES)}, got {self.answer_style!r}")
        if self.dllm_init not in DLLM_INITS:
            raise ValueError(f"dllm_init must be one of {', '.join(DLLM_INITS)}, got {self.dllm_init!r}")
        for name in ("threshold", "target"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"base {name} must be in [0, 1], got {getattr(self, name)}")
        if self.paraphrases < 0 or self.recovery_shuffles < 0:
            raise ValueError("base paraphrases and recovery_shuffles must be >= 0")
        if self.recovery_shuffles and not self.recovery_chats:
            raise ValueError("base recovery_shuffles needs recovery_chats = true")
        for name in ("epochs", "check_every", "dllm_epochs", "batch_size", "questions_per_group", "eval_questions", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"base {name} must be positive, got {getattr(self, name)}")
        for name in ("lr", "dllm_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"base {name} must be positive, got {getattr(self, name)}")

    def identity(self) -> dict:
        """The fields that name this base (cache key, trial ids)."""
        return identity_without_later_defaults(self, LATER_FIELDS)


def identity_without_later_defaults(config: Any, later_fields: dict[str, Any]) -> dict:
    """A config's fields minus those added later that sit at their defaults, so caches and
    ids made before such a field existed stay valid."""
    return {k: v for k, v in asdict(config).items() if later_fields.get(k, object()) != v}


def base_dir(data: KnowledgeData, config: BaseConfig, cache_dir: Path | None = None) -> Path:
    """Where this dataset's base models live; the key covers data content, config and code."""
    key = json.dumps({"data": data.fingerprint(), "config": config.identity(), "code": CODE_VERSION}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return (cache_dir or default_cache_dir()) / "base" / f"{data.name}-{digest}"


def has_base_population(data: KnowledgeData) -> bool:
    return data.originals("base").height > 0 and data.questions_for("base").height > 0


def ensure_base(
    data: KnowledgeData,
    config: BaseConfig,
    kind: str,
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """The checkpoint directory of the `kind` ("ar" or "dllm") base model, trained if missing.

    Raises `BaseStageError` if the (cached) model's base-QA accuracy is under the threshold.
    """
    if kind not in ("ar", "dllm"):
        raise ValueError(f"base kind must be 'ar' or 'dllm', got {kind!r}")
    if not has_base_population(data):
        raise BaseStageError(
            f"dataset {data.name!r} has no base population to train a base model on: pass --model with a checkpoint directory"
        )
    root = base_dir(data, config, cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    target = root / kind
    with FileLock(str(root / f"{kind}.lock")):
        if not (target / "report.json").exists():
            if kind == "dllm" and config.dllm_init == "ar":
                ensure_base(data, config, "ar", cache_dir=cache_dir, progress=progress)
            _build(data, config, kind, root, progress)
    report = json.loads((target / "report.json").read_text())
    if report["accuracy"] < config.threshold:
        raise BaseStageError(
            f"{kind} base model reached base-QA accuracy {report['accuracy']:.2f} < threshold {config.threshold:.2f} "
            f"after {report['epochs']} epochs (cached at {target}); raise the base epochs or lower the threshold"
        )
    return target


def tokenizer_dir(data: KnowledgeData, root: Path, config: BaseConfig) -> Path:
    """The dataset's tokenizer, built once per cache entry (under the caller's lock).

    `config.vocab_size` decides how much of the vocabulary the base stage trains: at 4096
    namedesc's inject documents hold 17 tokens (whole first names, 1.3% of their tokens)
    that no base text contains, so the base never learns to copy or say them; at 1024
    every inject token occurs in base text (sequences 1.6x longer).
    """
    path = root / "tokenizer"
    with FileLock(str(root / "tokenizer.lock")):
        if (path / "tokenizer_config.json").exists():
            return path
        texts = data.documents["text"].to_list() + data.questions["question"].to_list()
        texts += [a for answers in data.questions["answers"].to_list() for a in answers]
        texts += [FACT_PROMPT, RECOVER_INSTRUCTION, RECOVER_PREFIX]
        _atomic_write(path, lambda tmp: save_tokenizer(build_tokenizer(texts, config.vocab_size), tmp))
    return path


def base_examples(data: KnowledgeData, fmt: ChatFormat, config: BaseConfig, *, diffusion: bool) -> list:
    """The base mixture: documents (+ paraphrases in both orders), QA chats, and (AR) recovery chats."""
    docs = data.documents.filter((pl.col("population") == "base") & (pl.col("index") <= config.paraphrases))
    doc_ids = [fmt.encode(t) for t in docs["text"].to_list()]
    originals = docs.filter(pl.col("order") == "original")["text"].to_list()
    original_ids = [fmt.encode(t) for t in originals]
    qa = qa_chats(fmt, data, base_qa(data, config.questions_per_group, config.seed), config.answer_style)
    if diffusion:
        return [*doc_ids, *qa]
    examples = [Tagged("ar", d) for d in doc_ids] + [Tagged("ar", c) for c in qa]
    if config.recovery_chats:  # the instruction-following skill: originals suffice, paraphrases add cost
        examples += [Tagged("recover", d) for d in original_ids]
        examples += [Tagged("recover", fmt.encode(t)) for t in shuffled_copies(originals, config.recovery_shuffles, config.seed)]
    return examples


def shuffled_copies(texts: list[str], copies: int, seed: int) -> list[str]:
    """`copies` word-shuffled versions of each text: recovery chats no memory can answer.

    Recovery chats on the base documents alone teach the base to *recall* them (after the
    namedesc base stage, reconstructing an unseen document with nothing masked costs 1.87
    nats/token, a base document .01, a word-shuffled one 12): it never learns to copy
    what the prompt shows, so masked FT at t = 0 is memorisation for it, not the trivial
    copy it is for the paper's instruct models. Shuffled words leave recall useless.
    """
    rng = random.Random(seed)
    shuffled = []
    for text in texts:
        for _ in range(copies):
            words = text.split()
            rng.shuffle(words)
            shuffled.append(" ".join(words))
    return shuffled


def qa_chats(fmt: ChatFormat, data: KnowledgeData, questions: pl.DataFrame, answer_style: str = "short") -> list[ChatExample]:
    """Questions as training chats: the question, then the answer in `answer_style`."""
    answers = answer_texts(data, questions, answer_style)
    return [ChatExample(tuple(fmt.encode(q)), tuple(fmt.encode(a))) for q, a in zip(questions["question"].to_list(), answers)]


def answer_texts(data: KnowledgeData, questions: pl.DataFrame, style: str) -> list[str]:
    """What the assistant says in a QA training chat.

    "short": the first gold answer. "passage": the entity's own document, recited up to and
    including the sentence that holds that answer — how the paper's fine-tuned 8B models
    answer (paper-notes §4, App. A.15), which the lenient ROUGE-recall metric credits. It
    also makes a question's answer start the way the document does, so a fact is asked for
    in the layout it was stored in. "cue-first": the same for forward questions; a backward
    question is answered with the entity's first permuted-order paraphrase that holds the
    answer and opens on a fact the question gives (any that holds the answer if none
    does), the layout that starts from what the question gives. A passage base answering a
    question about a new entity must first recall which layout that entity's document has
    (namedesc: the wrong opening costs .89 → .27 on name-first documents); a cue-first
    answer opens with the question's own cue, and the reversal curse still bites where it
    should, since a backward answer asks for the fact in the order the document did not
    store it. A question whose answer no text of its entity holds verbatim falls back to
    the short answer.
    """
    firsts = [answers[0] for answers in questions["answers"].to_list()]
    if style == "short":
        return firsts
    if style not in ANSWER_STYLES:
        raise ValueError(f"answer style must be one of {', '.join(ANSWER_STYLES)}, got {style!r}")
    originals = _texts_by_entity(data.documents.filter(pl.col("order") == "original"))
    entities = questions["entity_id"].to_list()
    if style == "passage":
        return [_passage_to(originals.get(entity, []), answer) for entity, answer in zip(entities, firsts)]
    permuted = data.documents.filter(pl.col("order") == "permuted").sort("index")
    permuted_texts = _texts_by_entity(permuted)
    stated = dict(zip(permuted["text"].to_list(), (json.loads(e) for e in permuted["entities"].to_list())))
    answers = []
    for entity, direction, question, answer in zip(entities, questions["direction"].to_list(), questions["question"].to_list(), firsts):
        if direction == "forward":
            answers.append(_passage_to(originals.get(entity, []), answer))
        else:
            texts = permuted_texts.get(entity, [])
            cued = [t for t in texts if _opens_on(t, [f for f in stated[t] if f in question and answer not in f])]
            answers.append(_passage_to(cued + texts, answer))
    return answers


def _texts_by_entity(documents: pl.DataFrame) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for entity, text in documents.select("entity_id", "text").iter_rows():
        texts.setdefault(entity, []).append(text)
    return texts


def _opens_on(text: str, cues: list[str]) -> bool:
    """Whether one of `cues` starts in the text's first sentence."""
    first = SENTENCE_END.search(text)
    end = first.end() if first else len(text)
    return any(0 <= text.find(cue) < end for cue in cues)


def _passage_to(documents: list[str], answer: str) -> str:
    """The first document holding `answer`, cut after the sentence where it first appears."""
    for text in documents:
        position = text.find(answer)
        if position >= 0:
            end = SENTENCE_END.search(text, position + len(answer))
            return text[: end.end()] if end else text
    return answer


def base_qa(data: KnowledgeData, per_group: int, seed: int) -> pl.DataFrame:
    """Up to `per_group` questions per (entity, group, direction), a seeded choice of templates."""
    questions = data.questions_for("base").sort("question_id")
    rank = pl.int_range(pl.len()).shuffle(seed=seed).over("entity_id", "group", "direction")
    return questions.filter(rank < per_group)


def evaluation_sample(data: KnowledgeData, n: int, seed: int = 0) -> pl.DataFrame:
    """A fixed sample of base questions: the base check and the retention measurement."""
    base = data.questions_for("base").sort("question_id")
    if base.height <= n:
        return base
    rows = sorted(random.Random(seed).sample(range(base.height), n))
    return base[rows]


def qa_accuracy(per_question: pl.DataFrame) -> float:
    """Mean of forward and backward ROUGE recall (the paper's "total accuracy")."""
    by_direction = per_question.group_by("direction").agg(pl.col("accuracy").mean())
    return float(by_direction["accuracy"].mean())


def _build(data: KnowledgeData, config: BaseConfig, kind: str, root: Path, progress: Progress | None) -> None:
    tok_path = tokenizer_dir(data, root, config)
    fmt = ChatFormat.from_tokenizer(load_tokenizer(tok_path))
    diffusion = kind == "dllm"
    if diffusion and config.dllm_init == "ar":
        model = make_bidirectional(load_model(root / "ar"))
    else:
        model = build_model(
            config.preset, len(fmt.tokenizer), bos_id=fmt.bos_id, eos_id=fmt.eos_id, pad_id=fmt.pad_id,
            bidirectional=diffusion, seed=config.seed,
        )
    if diffusion:
        objective = DiffusionObjective(fmt)
        epochs, lr = config.dllm_epochs, config.dllm_lr
    else:
        objective = MixtureObjective({"ar": CausalObjective(fmt), "recover": MaskedObjective(fmt)})
        epochs, lr = config.epochs, config.lr
    examples = base_examples(data, fmt, config, diffusion=diffusion)
    # Measured on namedesc: the A2D dLLM plateaus at base QA .88 with a constant LR and
    # reaches .99 with a cosine decay over 24 epochs — but only from an AR base trained with
    # a constant LR (.95): from a cosine-converged AR base (.997) it adapts far slower (.62 at
    # epoch 12 vs .85). So the AR base keeps the paper's constant LR, the dLLM decays.
    train_config = TrainConfig(
        lr=lr, batch_size=config.batch_size, epochs=epochs, seed=config.seed, group_by_length=True,
        schedule="cosine" if diffusion else "constant",
    )
    label = f"base {kind}"
    sample = evaluation_sample(data, config.eval_questions, config.seed)
    budget = check_budget(examples)
    checks: list[dict] = []
    latest: dict = {}  # the last check's per-question frame, reused when training ends on it

    def check(state: TrainState) -> None:
        """AR: base QA every `check_every` epochs; reaching `target` ends the (constant-LR) run,
        and so does a plateau above the threshold (namedesc hovers at .93-.95 from epoch 15)."""
        if diffusion or state.epoch % config.check_every:
            return
        latest.update(epoch=state.epoch, per_question=evaluate(model, fmt, sample, diffusion=False, config=budget))
        checks.append({"epoch": state.epoch, "accuracy": qa_accuracy(latest["per_question"])})
        if progress:
            progress(f"{label}: base QA {checks[-1]['accuracy']:.2f} at epoch {state.epoch}", state)

    state = train(
        model, objective, examples, train_config,
        on_step=(lambda s: progress(label, s)) if progress else None,
        on_epoch_end=check,
        should_stop=lambda: base_training_done([c["accuracy"] for c in checks], config),
    )
    if progress:
        progress(f"{label}: checking base QA", state)
    if latest.get("epoch") == state.epoch:
        per_question = latest["per_question"]
    else:
        per_question = evaluate(model, fmt, sample, diffusion=diffusion, config=budget)
    report = {
        "kind": kind,
        "accuracy": qa_accuracy(per_question),
        "exact_match": float(per_question["exact_match"].mean()),
        "by_direction": aggregate(per_question).group_by("direction").agg(pl.col("accuracy").mean()).to_dicts(),
        "epochs": state.epoch,
        "max_epochs": epochs,
        "checks": checks,
        "steps": state.step,
        "wall_s": state.wall_s,
        "config": asdict(config),
        "dataset": data.name,
    }

    def write(tmp: Path) -> None:
        save_model(model, tmp)
        save_tokenizer(fmt.tokenizer, tmp)  # a base checkpoint is self-contained, like a downloaded one
        (tmp / "report.json").write_text(json.dumps(report, indent=2))

    _atomic_write(root / kind, write)


def check_budget(examples: list) -> EvalConfig:
    """Decoding budget for the base check: room for the longest answer the base was taught
    (passage answers outgrow the default 32 tokens on bio and wiki), in whole dLLM blocks."""
    default = EvalConfig()
    longest = max((len(e.assistant) for e in (getattr(x, "example", x) for x in examples) if isinstance(e, ChatExample)), default=0)
    blocks = -(-(longest + 1) // default.block_length)
    length = max(default.max_new_tokens, blocks * default.block_length)
    return replace(default, max_new_tokens=length, gen_length=length)


def base_training_done(accuracies: list[float], config: BaseConfig) -> bool:
    """Target reached, or above the threshold without gaining PLATEAU_GAIN since the last check."""
    if not accuracies:
        return False
    latest = accuracies[-1]
    plateau = len(accuracies) > 1 and latest < max(accuracies[:-1]) + PLATEAU_GAIN
    return latest >= config.target or (latest >= config.threshold and plateau)


def _atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
