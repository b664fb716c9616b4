"""One in-memory and one on-disk representation for every dataset source.

Generators, the paper-format importer and the generic polars importer all build a
`KnowledgeData`; trainers and evaluation only ever read one. On disk a dataset directory
holds `documents.parquet`, `questions.parquet` and `meta.json`.

documents: one row per text
    doc_id         str   unique; a paraphrase's id is "<original id>~<order>~<index>"
    entity_id      str   the entity the text is about (shared by original and paraphrases)
    population     str   "base" | "inject"
    text           str
    order          str   "original" | "same" | "permuted"
    paraphrase_of  str?  doc_id of the original (null for originals)
    index          int   0 for originals, 1.. for paraphrases (position within its order set)
    entities       str   JSON list of entity surface strings kept intact by reverse training
    facts          str   JSON object of ground-truth fields (generator-specific)

questions: one row per question
    question_id    str   unique
    entity_id      str
    population     str   "base" | "inject"
    question       str
    answers        list[str]  gold answers (score = best over them)
    direction      str   "forward" | "backward"
    group          str   dataset sub-group (N2D/D2N, attribute name, fact type, ...)
    template       str   question-template id; `split` is assigned per template
    split          str   "val" | "test"
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

POPULATIONS = ("base", "inject")
ORDERS = ("same", "permuted")
DIRECTIONS = ("forward", "backward")
SPLITS = ("val", "test")

DOCUMENT_SCHEMA = {
    "doc_id": pl.Utf8,
    "entity_id": pl.Utf8,
    "population": pl.Utf8,
    "text": pl.Utf8,
    "order": pl.Utf8,
    "paraphrase_of": pl.Utf8,
    "index": pl.Int64,
    "entities": pl.Utf8,
    "facts": pl.Utf8,
}
QUESTION_SCHEMA = {
    "question_id": pl.Utf8,
    "entity_id": pl.Utf8,
    "population": pl.Utf8,
    "question": pl.Utf8,
    "answers": pl.List(pl.Utf8),
    "direction": pl.Utf8,
    "group": pl.Utf8,
    "template": pl.Utf8,
    "split": pl.Utf8,
}


class DataError(ValueError):
    """Bad or inconsistent data: the CLI prints it as one line and exits 2."""


def paraphrase_id(original_id: str, order: str, index: int) -> str:
    return f"{original_id}~{order}~{index}"


def document_row(
    entity_id: str, population: str, text: str, order: str, index: int, entities: list[str], facts: dict | str
) -> dict:
    """One `documents` row for a generator: an original (order "original", index 0) is its
    entity's document; a paraphrase gets its id and `paraphrase_of` from the entity."""
    original = order == "original"
    return {
        "doc_id": entity_id if original else paraphrase_id(entity_id, order, index),
        "entity_id": entity_id,
        "population": population,
        "text": text,
        "order": order,
        "paraphrase_of": None if original else entity_id,
        "index": index,
        "entities": json.dumps(entities),
        "facts": facts if isinstance(facts, str) else json.dumps(facts),
    }


def assign_splits(questions: pl.DataFrame) -> pl.DataFrame:
    """Give every (group, direction) with ≥ 2 templates about a third of them as `val`.

    Used when a source has templates but no split of its own. Within each (group,
    direction) the templates are ordered by a hash so the choice does not follow the
    generator's listing order; the first max(1, n // 3) are `val`, the rest `test`.
    """
    keys = questions.select("group", "direction", "template").unique()
    keys = keys.with_columns(
        pl.col("template").map_elements(lambda t: hashlib.sha1(t.encode()).hexdigest(), return_dtype=pl.Utf8).alias("_h")
    ).sort("group", "direction", "_h")
    keys = keys.with_columns(pl.int_range(pl.len()).over("group", "direction").alias("_rank"))
    n = pl.len().over("group", "direction")
    keys = keys.with_columns(
        pl.when((pl.col("_rank") < pl.max_horizontal(pl.lit(1), n // 3)) & (n > 1)).then(pl.lit("val")).otherwise(pl.lit("test")).alias("split")
    ).drop("_h", "_rank")
    return questions.drop("split", strict=False).join(keys, on=["group", "direction", "template"], how="left")


@dataclass
class KnowledgeData:
    """A dataset: documents (+ paraphrases) and questions for base/inject populations."""

    name: str
    documents: pl.DataFrame
    questions: pl.DataFrame
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.documents = _conform(self.documents, DOCUMENT_SCHEMA, "documents")
        self.questions = _conform(self.questions, QUESTION_SCHEMA, "questions")
        self.validate()

    # ---- validation -------------------------------------------------------------------
    def validate(self) -> None:
        d, q = self.documents, self.questions
        if d.height == 0:
            raise DataError(f"dataset {self.name!r} has no documents")
        dup = d.filter(pl.col("doc_id").is_duplicated())
        if dup.height:
            raise DataError(f"duplicate doc_id {dup['doc_id'][0]!r}")
        _check_values(d, "population", POPULATIONS, "documents")
        _check_values(d, "order", ("original",) + ORDERS, "documents")
        if q.height:
            _check_values(q, "population", POPULATIONS, "questions")
            _check_values(q, "direction", DIRECTIONS, "questions")
            _check_values(q, "split", SPLITS, "questions")
        originals = set(d.filter(pl.col("order") == "original")["doc_id"].to_list())
        orphans = d.filter((pl.col("order") != "original") & ~pl.col("paraphrase_of").is_in(list(originals)))
        if orphans.height:
            raise DataError(f"paraphrase {orphans['doc_id'][0]!r} points to unknown document {orphans['paraphrase_of'][0]!r}")

    # ---- views ------------------------------------------------------------------------
    def originals(self, population: str = "inject") -> pl.DataFrame:
        return self.documents.filter((pl.col("population") == population) & (pl.col("order") == "original")).sort("doc_id")

    def max_paraphrases(self, order: str, population: str = "inject") -> int:
        """Paraphrases available for *every* original of the population in this order."""
        orig = self.originals(population)
        para = self.documents.filter((pl.col("population") == population) & (pl.col("order") == order))
        counts = para.group_by("paraphrase_of").len()
        if orig.height == 0 or counts.height < orig.height:
            return 0
        return int(counts["len"].min())

    def training_documents(self, k: int = 0, order: str = "same", population: str = "inject") -> pl.DataFrame:
        """The originals plus their first `k` paraphrases in `order` (the paper's k)."""
        if order not in ORDERS:
            raise DataError(f"unknown paraphrase order {order!r}; choose one of {', '.join(ORDERS)}")
        available = self.max_paraphrases(order, population)
        if k < 0 or k > available:
            raise DataError(
                f"{k} {order}-order paraphrases requested but dataset {self.name!r} has {available} per {population} document"
            )
        orig = self.originals(population)
        para = self.documents.filter(
            (pl.col("population") == population) & (pl.col("order") == order) & (pl.col("index") <= k)
        )
        return pl.concat([orig, para]).sort("entity_id", "order", "index")

    def questions_for(self, population: str = "inject", split: str | None = None) -> pl.DataFrame:
        q = self.questions.filter(pl.col("population") == population)
        return q if split is None else q.filter(pl.col("split") == split)

    # ---- persistence ------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the dataset directory (atomically: a temp dir renamed into place)."""
        directory = Path(directory)
        tmp = directory.with_name(f".{directory.name}.tmp")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.documents.write_parquet(tmp / "documents.parquet")
        self.questions.write_parquet(tmp / "questions.parquet")
        (tmp / "meta.json").write_text(json.dumps({"name": self.name, **self.meta}, indent=2, sort_keys=True))
        if directory.exists():  # only ever an empty directory: callers check before
            directory.rmdir()
        tmp.rename(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "KnowledgeData":
        directory = Path(directory)
        try:
            meta = json.loads((directory / "meta.json").read_text())
            documents = pl.read_parquet(directory / "documents.parquet")
            questions = pl.read_parquet(directory / "questions.parquet")
        except FileNotFoundError as e:
            raise DataError(f"{directory} is not a maskft dataset directory (missing {Path(e.filename).name})") from None
        except (OSError, ValueError, pl.exceptions.PolarsError) as e:
            raise DataError(f"cannot read dataset {directory}: {e}") from None
        name = meta.pop("name", directory.name)
        return cls(name=name, documents=documents, questions=questions, meta=meta)

    def fingerprint(self) -> str:
        """Content hash: base-stage caches key on it, so edited data never reuses a stale base."""
        h = hashlib.sha256()
        for frame in (self.documents, self.questions):
            h.update(frame.write_ndjson().encode())  # ndjson: CSV cannot hold the answers list
        return h.hexdigest()[:16]


def _conform(frame: pl.DataFrame, schema: dict, what: str) -> pl.DataFrame:
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise DataError(f"{what} table is missing column(s): {', '.join(missing)}")
    try:
        return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
    except pl.exceptions.PolarsError as e:
        raise DataError(f"{what} table has a column of the wrong type: {e}") from None


def _check_values(frame: pl.DataFrame, column: str, allowed: tuple, what: str) -> None:
    bad = frame.filter(~pl.col(column).is_in(list(allowed)) | pl.col(column).is_null())
    if bad.height:
        raise DataError(f"{what}: {column} must be one of {', '.join(allowed)}, got {bad[column][0]!r}")
