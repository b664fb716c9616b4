"""One injection trial: base model + one method on the inject documents, evaluated over training.

The same function runs under `maskft train`, inside a Ray Tune trial and in tests; it
knows nothing of either. Progress leaves through `on_event(kind, payload)`:
"stage" (base stage / setup text), "step" (TrainState), "eval" (results rows of one
evaluation point), "done" (summary dict). Results rows follow `trainers/results.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from maskft.datasets.chat import ChatFormat
from maskft.datasets.registry import resolve_dataset
from maskft.datasets.schema import ORDERS, DataError, KnowledgeData
from maskft.datasets.tokenizer import load_tokenizer
from maskft.trainers.base_stage import (
    BaseConfig,
    ensure_base,
    evaluation_sample,
    has_base_population,
    identity_without_later_defaults,
    qa_chats,
)
from maskft.trainers.evaluation import EVAL_LATER_FIELDS, EvalConfig, aggregate, evaluate
from maskft.trainers.loop import SCHEDULES, TrainConfig, TrainState, log_spaced_epochs, scaled_epochs, train
from maskft.trainers.models import PRESETS, is_checkpoint, load_model
from maskft.trainers.objectives import (
    DOCUMENT_FORMATS,
    METHODS,
    MaskRatio,
    Objective,
    check_mask_spans,
    make_objective,
)
from maskft.trainers.results import conform, headline

Event = Callable[[str, Any], None]
MASKED_METHODS = ("masked", "random-token", "dllm")  # methods that take a mask ratio
LATER_FIELDS = {"dllm_document_format": "plain", "lr_schedule": "constant", "mask_spans": "tokens"}  # added after studies existed: left out of trial ids at their defaults


@dataclass(frozen=True)
class TrialConfig:
    """Everything that defines a trial; validated before any work starts."""

    dataset: str = "namedesc"
    method: str = "masked"
    mask_ratio: str | None = None  # None: "random" for masked methods, null for ar methods
    paraphrases: int = 0
    order: str = "same"
    replay: float = 0.0
    model: str = "tiny"  # a preset name or a local checkpoint directory
    seed: int = 0
    epochs: int = 100  # for k = 0; scaled down with paraphrases so documents seen stay equal
    lr: float = 3e-4
    lr_schedule: str = "constant"  # the paper's constant LR; "cosine" decays it to 0 over the trial
    batch_size: int = 16
    eval_points: int = 6
    retention_questions: int = 128
    max_questions: int | None = None  # subsample the inject questions (quick runs)
    document_format: str = "chat"  # ar: "Tell me a fact." chat (paper v6) or "plain" BOS doc EOS
    dllm_document_format: str = "plain"  # dllm: "plain" (MDLM text) or "chat" (documents as chat answers)
    mask_spans: str = "tokens"  # masked, random-token: a corrupted token per token (the paper) or "merged" runs
    trust_remote_code: bool = False
    base: BaseConfig = field(default_factory=BaseConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.method in MASKED_METHODS:
            object.__setattr__(self, "mask_ratio", MaskRatio("random" if self.mask_ratio is None else self.mask_ratio).label)
        elif self.mask_ratio is not None:
            raise ValueError(f"method {self.method!r} takes no mask ratio (got {self.mask_ratio!r})")
        if self.order not in ORDERS:
            raise ValueError(f"unknown paraphrase order {self.order!r}; choose one of {', '.join(ORDERS)}")
        if self.paraphrases < 0:
            raise ValueError(f"paraphrase count must be >= 0, got {self.paraphrases}")
        if not 0 <= self.replay < 1:
            raise ValueError(f"replay fraction must be in [0, 1), got {self.replay}")
        if self.model not in PRESETS and not is_checkpoint(self.model):
            raise ValueError(f"--model {self.model!r} is neither a preset ({', '.join(PRESETS)}) nor a checkpoint directory")
        for name in ("epochs", "batch_size", "eval_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.retention_questions < 0 or (self.max_questions is not None and self.max_questions < 1):
            raise ValueError("question counts must be positive")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}")
        for name in ("document_format", "dllm_document_format"):
            if getattr(self, name) not in DOCUMENT_FORMATS:
                raise ValueError(f"{name} must be one of {', '.join(DOCUMENT_FORMATS)}, got {getattr(self, name)!r}")
        check_mask_spans(self.mask_spans, self.method)

    @property
    def trial_id(self) -> str:
        """Readable and unique per configuration: `masked-random-k0-same-r0-s0-1a2b3c`."""
        identity = identity_without_later_defaults(self, LATER_FIELDS) | {
            "base": self.base.identity(),
            "eval": identity_without_later_defaults(self.eval, EVAL_LATER_FIELDS),
        }
        digest = hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:6]
        ratio = f"-{self.mask_ratio}" if self.mask_ratio is not None else ""
        return f"{self.method}{ratio}-k{self.paraphrases}-{self.order}-r{self.replay:g}-s{self.seed}-{digest}"

    @property
    def diffusion(self) -> bool:
        return self.method == "dllm"


@dataclass
class Prepared:
    """A trial resolved to concrete objects: data, model, format, examples, questions."""

    config: TrialConfig
    data: KnowledgeData
    model: Any
    fmt: ChatFormat
    objective: Objective
    examples: list
    replay_pool: list
    questions: pl.DataFrame
    epochs: int


def check_data(config: TrialConfig, *, cache_dir: Path | None = None) -> KnowledgeData:
    """The trial's dataset, checked against the config without touching any model."""
    data = resolve_dataset(config.dataset, seed=0, cache_dir=cache_dir)
    data.training_documents(config.paraphrases, config.order)  # raises on a k the data lacks
    if config.replay and not has_base_population(data):
        raise DataError(f"--replay needs a base population and dataset {data.name!r} has none")
    if config.model in PRESETS and not has_base_population(data):
        raise DataError(f"dataset {data.name!r} has no base population to train a base model on: pass --model with a checkpoint")
    return data


def prepare(config: TrialConfig, *, cache_dir: Path | None = None, on_event: Event | None = None) -> Prepared:
    """Resolve data and model and check they fit, before any injection training.

    Raises `DataError`/`ValueError` with one line for bad input (paraphrase count above
    what the dataset has, a tokenizer that does not fit the model, ...).
    """
    emit = on_event or (lambda kind, payload: None)
    data = check_data(config, cache_dir=cache_dir)
    documents = data.training_documents(config.paraphrases, config.order)
    if config.model in PRESETS:
        kind = "dllm" if config.diffusion else "ar"
        emit("stage", f"base stage ({kind}, cached after the first run)")
        base = replace(config.base, preset=config.model)
        checkpoint = ensure_base(
            data, base, kind, cache_dir=cache_dir, progress=lambda label, state: emit("base_step", (label, state))
        )
    else:
        checkpoint = Path(config.model)
    fmt = ChatFormat.from_tokenizer(load_tokenizer(checkpoint))
    model = load_model(checkpoint, bidirectional=True if config.diffusion else None, trust_remote_code=config.trust_remote_code)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(fmt.tokenizer) > rows:
        raise ValueError(f"tokenizer in {checkpoint} has {len(fmt.tokenizer)} tokens but the model only {rows} embeddings")
    objective = make_objective(
        config.method, config.mask_ratio, fmt, len(fmt.tokenizer), document_format=config.dllm_document_format if config.diffusion else config.document_format,
        mask_spans=config.mask_spans,
    )
    examples = [
        fmt.encode(text)
        for doc_text, entities in documents.select("text", "entities").iter_rows()
        for text in objective.training_texts(doc_text, json.loads(entities or "[]"))
    ]
    questions = _inject_questions(data, config)
    if has_base_population(data) and config.retention_questions:
        questions = pl.concat([questions, evaluation_sample(data, config.retention_questions, config.seed)])
    epochs = scaled_epochs(config.epochs, data.originals("inject").height, config.paraphrases)
    return Prepared(config, data, model, fmt, objective, examples, _replay_pool(data, fmt, config), questions, epochs)


def run_trial(
    config: TrialConfig,
    *,
    out_dir: Path | None = None,
    cache_dir: Path | None = None,
    on_event: Event | None = None,
    should_stop: Callable[[], bool] | None = None,
    prepared: Prepared | None = None,
) -> dict:
    """Train and evaluate one trial; return its summary. Results are written after every
    evaluation point (atomically) when `out_dir` is given, so an interruption keeps them."""
    emit = on_event or (lambda kind, payload: None)
    p = prepared or prepare(config, cache_dir=cache_dir, on_event=on_event)
    eval_epochs = set(log_spaced_epochs(p.epochs, config.eval_points))
    results: list[pl.DataFrame] = []
    predictions: list[pl.DataFrame] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(asdict(config), indent=2, default=str))

    def evaluate_now(state: TrainState) -> None:
        per_question = evaluate(p.model, p.fmt, p.questions, diffusion=config.diffusion, config=config.eval)
        rows = _result_rows(config, state, aggregate(per_question))
        results.append(rows)
        predictions.append(per_question.with_columns(pl.lit(state.epoch).alias("epoch")))
        if out_dir is not None:
            _write_parquet(pl.concat(results), out_dir / "results.parquet")
            _write_parquet(pl.concat(predictions), out_dir / "predictions.parquet")
        emit("eval", rows)

    emit("stage", f"injecting {len(p.examples)} documents for {p.epochs} epochs")
    evaluate_now(TrainState(total_steps=0))  # before injection: the paper's "before FT" row
    train_config = TrainConfig(
        lr=config.lr, schedule=config.lr_schedule, batch_size=config.batch_size, epochs=p.epochs, seed=config.seed
    )
    state = train(
        p.model,
        p.objective,
        p.examples,
        train_config,
        replay=(p.replay_pool, config.replay) if config.replay else None,
        on_step=lambda s: emit("step", s),
        on_epoch_end=lambda s: evaluate_now(s) if s.epoch in eval_epochs else None,
        should_stop=should_stop,
    )
    all_results = pl.concat(results)
    summary = {
        "trial_id": config.trial_id,
        "epochs": p.epochs,
        "steps": state.step,
        "stopped_early": state.stopped,
        "wall_s": state.wall_s,
        "headline": headline(all_results).to_dicts(),
    }
    if out_dir is not None:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    emit("done", summary)
    return summary


def _inject_questions(data: KnowledgeData, config: TrialConfig) -> pl.DataFrame:
    questions = data.questions_for("inject").sort("question_id")
    if questions.height == 0:
        raise DataError(f"dataset {data.name!r} has no questions about the inject population")
    if config.max_questions is not None and questions.height > config.max_questions:
        # a stratified sample keeps every (split, direction, group) cell represented
        fraction = config.max_questions / questions.height
        questions = questions.filter(
            pl.int_range(pl.len()).shuffle(seed=config.seed).over("split", "direction", "group")
            < (pl.len().over("split", "direction", "group") * fraction).ceil()
        )
    return questions


def _replay_pool(data: KnowledgeData, fmt: ChatFormat, config: TrialConfig) -> list:
    """Base-population documents and QA chats, fed through the trial's own objective."""
    if not config.replay:
        return []
    docs = [fmt.encode(t) for t in data.originals("base")["text"].to_list()]
    return docs + qa_chats(fmt, data, data.questions_for("base"), config.base.answer_style)


def _result_rows(config: TrialConfig, state: TrainState, aggregated: pl.DataFrame) -> pl.DataFrame:
    constants = {
        "trial_id": config.trial_id,
        "dataset": config.dataset,
        "method": config.method,
        "mask_ratio": config.mask_ratio,
        "paraphrases": config.paraphrases,
        "order": config.order,
        "replay": config.replay,
        "model": config.model,
        "seed": config.seed,
        "epoch": state.epoch,
        "step": state.step,
        "docs_seen": state.docs_seen,
        "tokens_seen": state.tokens_seen,
        "wall_s": state.wall_s,
        "loss": state.loss,
    }
    return conform(aggregated.with_columns([pl.lit(v).alias(k) for k, v in constants.items()]))


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    frame.write_parquet(tmp)
    os.replace(tmp, path)
