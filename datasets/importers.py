"""Turn external data files into a `KnowledgeData`.

Two sources: the paper's release format (`import_paper`) and generic tables read with
polars (`import_table`). Each reader only produces three plain frames — originals,
paraphrases and questions — and `_assemble` alone turns them into the dataset, so ids,
entity links, question templates and val/test splits are derived one way for every source.

Intermediate frames:
    originals    doc_id, text, population
    paraphrases  paraphrase_of, order, text          (file order = paraphrase index order)
    questions    question_id, question, answers, direction, group, population, split (nullable)
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path

import polars as pl

from maskft.datasets.schema import (
    DIRECTIONS,
    ORDERS,
    POPULATIONS,
    SPLITS,
    DataError,
    KnowledgeData,
    assign_splits,
    paraphrase_id,
)

TABLE_FORMATS = ("jsonl", "parquet", "csv")
PAPER_TASKS = ("forward", "backward", "N2D", "D2N")
# The document order an N2D/D2N row's group names; "" is a name-first text (biographies).
NAME_FIRST_GROUPS = ("NameIsDescription", "")
NAME_LAST_GROUPS = ("DescriptionIsName",)

_QUOTED = re.compile(r"\"[^\"\n]+\"|“[^”\n]+”")
_CAPITALISED = re.compile(
    r"[A-Z][\w'’-]*(?:[ \t]+(?:(?:of|the|de|du|da|del|la|van|von)[ \t]+)*[A-Z][\w'’-]*)+"
)
_NUMBER = re.compile(r"\d+")
_BLANK = "<X>"
_TOKEN = re.compile(r"<X>|\w[\w'’-]*|[^\w\s]")


# ---- text helpers ---------------------------------------------------------------------
def normalize_space(text: str) -> str:
    return " ".join(text.split())


def entity_spans(text: str) -> list[str]:
    """Quoted spans and capitalised multi-word spans (names, titles, places), in text order.

    A cheap stand-in for NER: the paper's entities are full names and quoted titles, which
    is exactly what these two patterns catch.
    """
    spans = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    for m in _CAPITALISED.finditer(text):
        if not any(s < m.end() and m.start() < e for s, e in spans):
            spans.append((m.start(), m.end()))
    return [text[s:e] for s, e in sorted(spans)]


def question_template(question: str, answers: list[str], document: str = "") -> str:
    """The question's wording with answers, document content, entities and numbers blanked.

    Questions that differ only in whom they ask about share a template, so the val/test
    split by template keeps question *forms* apart. Runs of 3+ words copied from the
    question's `document` are content (a description asked about), not form. A question
    with nothing to blank is its own template.
    """
    text = question
    for answer in sorted((a for a in answers if a.strip()), key=len, reverse=True):
        text = re.sub(re.escape(answer), _BLANK, text, flags=re.IGNORECASE)
    for span in sorted(set(entity_spans(text)), key=len, reverse=True):
        text = text.replace(span, _BLANK)
    text = _blank_copied_runs(text, document)
    return re.sub(r"<X>(?: <X>)+", _BLANK, normalize_space(_NUMBER.sub(_BLANK, text)))


def _blank_copied_runs(text: str, document: str, run: int = 3) -> str:
    """Blank every stretch of `text` covered by `run`-word sequences of `document`
    (punctuation is ignored when matching and swallowed inside a stretch)."""
    tokens = _TOKEN.findall(text)
    words = [i for i, t in enumerate(tokens) if t[0].isalnum()]
    key = [tokens[i].casefold() for i in words]
    doc_key = [t.casefold() for t in _TOKEN.findall(document) if t[0].isalnum()]
    seen = {tuple(doc_key[i : i + run]) for i in range(len(doc_key) - run + 1)}
    copied = [False] * len(tokens)
    for w in range(len(words) - run + 1):
        if tuple(key[w : w + run]) in seen:
            for i in range(words[w], words[w + run - 1] + 1):
                copied[i] = True
    out: list[str] = []
    for token, is_copied in zip(tokens, copied):
        if not is_copied:
            out.append(token)
        elif not out or out[-1] != _BLANK:
            out.append(_BLANK)
    return re.sub(r" (?=[?.,!;:)])", "", " ".join(out))


def paper_direction(task: str, group: str) -> str:
    """forward/backward of a paper test row: N2D asks the description given the name, so it
    is forward exactly when the name opens the document; D2N is the opposite."""
    if task in DIRECTIONS:
        return task
    name_first = group in NAME_FIRST_GROUPS
    return "forward" if name_first == (task == "N2D") else "backward"


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


# ---- paraphrase blocks ----------------------------------------------------------------
def match_blocks(documents: list[str], blocks: list[list[str]], source: str) -> list[int]:
    """For each paraphrase block, the index of the document it paraphrases (a permutation).

    Similarity is the block's mean IDF-weighted word Jaccard with the document, so template
    words shared by every document count for nothing and names/descriptions decide. A block
    without a strictly best document, or two blocks wanting the same one, is an error:
    guessing would silently train on another entity's paraphrases.
    """
    doc_words = [_words(t) for t in documents]
    df = Counter(w for ws in doc_words for w in ws)
    n = len(documents)

    idf = {w: math.log((n + 1) / (c + 1)) for w, c in df.items()}
    unseen = math.log(n + 1)

    def weight(words: set[str]) -> float:
        return sum(idf.get(w, unseen) for w in words)

    doc_weights = [weight(d) for d in doc_words]

    def similarity(entry: set[str], entry_weight: float, d: int) -> float:
        shared = weight(entry & doc_words[d])
        union = entry_weight + doc_weights[d] - shared
        return shared / union if union else 0.0

    best: list[int] = []
    for b, block in enumerate(blocks):
        entries = [(e, weight(e)) for e in map(_words, block)]
        scores = [sum(similarity(e, w, d) for e, w in entries) / len(entries) for d in range(n)]
        ranked = sorted(range(n), key=lambda d: -scores[d])
        if n > 1 and scores[ranked[0]] - scores[ranked[1]] <= 1e-9:
            raise DataError(
                f"{source}: paraphrase block {b + 1} matches documents {ranked[0] + 1} and {ranked[1] + 1} equally well"
            )
        best.append(ranked[0])
    claimed: dict[int, int] = {}
    for b, d in enumerate(best):
        if d in claimed:
            raise DataError(f"{source}: paraphrase blocks {claimed[d] + 1} and {b + 1} both match document {d + 1} best")
        claimed[d] = b
    return best


def paraphrase_blocks(records: list[str], originals: list[str], source: str) -> list[list[str]]:
    """Split a paraphrase file into its blocks, reordered to follow `originals`."""
    n_docs, n_records = len(originals), len(records)
    if n_records == 0 or n_records % n_docs:
        raise DataError(f"{source}: {n_records} records cannot form equal blocks for {n_docs} documents")
    size = n_records // n_docs
    blocks = [records[i : i + size] for i in range(0, n_records, size)]
    ordered: list[list[str]] = [[] for _ in originals]
    for block, doc in zip(blocks, match_blocks(originals, blocks, source)):
        ordered[doc] = block
    return ordered


# ---- the paper's format ---------------------------------------------------------------
def _read_json_texts(path: Path) -> list[str]:
    records = _read_json(path)
    if not isinstance(records, list) or not records:
        raise DataError(f"{path}: expected a non-empty JSON array of {{\"text\": ...}} objects")
    texts = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(f"{path}: record {i + 1} is not an object with a string \"text\"")
        texts.append(record["text"])
    return texts


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read file ({e})") from None


def _read_json(path: Path):
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: malformed JSON at line {e.lineno} ({e.msg})") from None


def _paper_questions(path: Path) -> pl.DataFrame:
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            rows.append(_paper_question(line, f"{path} line {number}"))
    if not rows:
        raise DataError(f"{path}: no questions")
    ids = _default_ids("q", len(rows))
    return _question_frame([{"question_id": qid, **row} for qid, row in zip(ids, rows)])


def _paper_question(line: str, where: str) -> dict:
    """One test-file row; N2D/D2N rows are grouped by task, directed by document order."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: malformed JSON ({e.msg})") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object")
    for key in ("task", "question", "answer"):
        if key not in row:
            raise DataError(f"{where}: missing {key!r}")
    task, group = row["task"], row.get("group") or ""
    if task not in PAPER_TASKS:
        raise DataError(f"{where}: task must be one of {', '.join(PAPER_TASKS)}, got {task!r}")
    if task in ("N2D", "D2N") and group not in NAME_FIRST_GROUPS + NAME_LAST_GROUPS:
        raise DataError(f"{where}: group must be NameIsDescription, DescriptionIsName or empty for {task}, got {group!r}")
    return {
        "question": _as_text(row["question"], where, "question"),
        "answers": _as_answers(row["answer"], where),
        "direction": paper_direction(task, group),
        "group": task if task in ("N2D", "D2N") else str(group),
        "population": "inject",
        "split": None,
    }


def import_paper(
    docs: Path,
    paraphrases: Path | None = None,
    permuted: Path | None = None,
    questions: Path | None = None,
    name: str | None = None,
) -> KnowledgeData:
    """Read the paper's release files (documents JSON, paraphrase JSONs, test JSONL).

    Every paraphrase record is kept except exact (whitespace-normalised) copies of its
    original, which the release puts at the head of most same-order blocks.
    """
    docs = Path(docs)
    texts = _read_json_texts(docs)
    originals = pl.DataFrame({"doc_id": _default_ids("doc", len(texts)), "text": texts, "population": "inject"})
    para_rows, counts = [], {}
    for order, path in (("same", paraphrases), ("permuted", permuted)):
        if path is None:
            continue
        records = _read_json_texts(Path(path))
        kept = 0
        for doc_id, text, block in zip(originals["doc_id"], texts, paraphrase_blocks(records, texts, str(path))):
            for entry in block:
                if normalize_space(entry) != normalize_space(text):
                    para_rows.append({"paraphrase_of": doc_id, "order": order, "text": entry})
                    kept += 1
        counts[order] = {"records": len(records), "kept": kept, "dropped_duplicates": len(records) - kept}
    meta = {
        "source": "paper",
        "files": {k: str(v) for k, v in {"docs": docs, "paraphrases": paraphrases, "permuted": permuted, "questions": questions}.items() if v},
        "paraphrase_records": counts,
    }
    qs = _paper_questions(Path(questions)) if questions is not None else _question_frame([])
    return _assemble(name or docs.stem, originals, _paraphrase_frame(para_rows), qs, meta)


# ---- generic tables -------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnMap:
    """Column names of a generic table; each defaults to its own field name."""

    text: str = "text"
    id: str = "id"
    population: str = "population"
    paraphrase_of: str = "paraphrase_of"
    order: str = "order"
    question: str = "question"
    answer: str = "answer"
    direction: str = "direction"
    group: str = "group"
    split: str = "split"

    def __post_init__(self) -> None:
        for f in fields(self):
            if not isinstance(getattr(self, f.name), str) or not getattr(self, f.name):
                raise ValueError(f"column name for {f.name!r} must be a non-empty string")


def read_table(path: Path, fmt: str) -> pl.DataFrame:
    """Read one table, turning every failure into a one-line `DataError`."""
    readers = {"jsonl": pl.read_ndjson, "parquet": pl.read_parquet, "csv": pl.read_csv}
    if fmt not in readers:
        raise DataError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        return readers[fmt](path)
    except (OSError, pl.exceptions.PolarsError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: cannot read as {fmt} ({reason})") from None


def _suffix(path: Path) -> str:
    return path.suffix.lstrip(".").lower()


def _column(frame: pl.DataFrame, name: str, path: Path, default=None, allowed: tuple | None = None) -> list:
    """One column as a list: `default` fills a missing column or nulls (None = required)."""
    if name not in frame.columns:
        if default is None:
            raise DataError(f"{path}: missing required column {name!r} (columns: {', '.join(frame.columns)})")
        return [default] * frame.height
    values = frame[name].to_list()
    if default is not None:
        values = [default if v is None or v == "" else v for v in values]
    for row, value in enumerate(values, start=1):
        if value is None:
            raise DataError(f"{path} row {row}: empty {name!r}")
        if allowed is not None and value not in allowed:
            raise DataError(f"{path} row {row}: {name!r} must be one of {', '.join(allowed)}, got {value!r}")
    return values


def _table_documents(path: Path, fmt: str, cols: ColumnMap) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = read_table(path, fmt)
    texts = [_as_text(t, f"{path} row {i}", cols.text) for i, t in enumerate(_column(frame, cols.text, path), start=1)]
    has_paraphrases = cols.paraphrase_of in frame.columns
    if cols.id in frame.columns or has_paraphrases:
        ids = [str(v) for v in _column(frame, cols.id, path)]
    else:
        ids = _default_ids("doc", frame.height)
    parents = frame[cols.paraphrase_of].to_list() if has_paraphrases else [None] * frame.height
    populations = _column(frame, cols.population, path, "inject", POPULATIONS)
    orders = _column(frame, cols.order, path, "same", ORDERS + ("original",))
    originals, paraphrases = [], []
    for row, (doc_id, text, parent, population, order) in enumerate(zip(ids, texts, parents, populations, orders), start=1):
        if parent is None or parent == "":
            originals.append({"doc_id": doc_id, "text": text, "population": population})
        elif order == "original":
            raise DataError(f"{path} row {row}: a paraphrase's {cols.order!r} must be same or permuted")
        else:
            paraphrases.append({"paraphrase_of": str(parent), "order": order, "text": text})
    if not originals:
        raise DataError(f"{path}: no original documents (every row has {cols.paraphrase_of!r})")
    known = Counter(o["doc_id"] for o in originals)
    duplicated = next((i for i, c in known.items() if c > 1), None)
    if duplicated is not None:
        raise DataError(f"{path}: duplicate {cols.id!r} {duplicated!r}")
    orphan = next((p["paraphrase_of"] for p in paraphrases if p["paraphrase_of"] not in known), None)
    if orphan is not None:
        raise DataError(f"{path}: paraphrase of unknown document {orphan!r} (no row has that {cols.id!r})")
    return pl.DataFrame(originals, schema={"doc_id": pl.Utf8, "text": pl.Utf8, "population": pl.Utf8}), _paraphrase_frame(paraphrases)


def _table_questions(path: Path, fmt: str, cols: ColumnMap) -> pl.DataFrame:
    frame = read_table(path, fmt)
    questions = _column(frame, cols.question, path)
    answers = _column(frame, cols.answer, path)
    directions = _column(frame, cols.direction, path, allowed=DIRECTIONS)
    groups = _column(frame, cols.group, path, "")
    populations = _column(frame, cols.population, path, "inject", POPULATIONS)
    splits = _column(frame, cols.split, path, allowed=SPLITS) if cols.split in frame.columns else [None] * frame.height
    ids = [str(v) for v in _column(frame, cols.id, path)] if cols.id in frame.columns else _default_ids("q", frame.height)
    rows = [
        {
            "question_id": qid,
            "question": _as_text(q, f"{path} row {i}", cols.question),
            "answers": _as_answers(a, f"{path} row {i}"),
            "direction": d,
            "group": str(g),
            "population": p,
            "split": s,
        }
        for i, (qid, q, a, d, g, p, s) in enumerate(zip(ids, questions, answers, directions, groups, populations, splits), start=1)
    ]
    return _question_frame(rows)


def import_table(
    docs: Path,
    questions: Path | None = None,
    fmt: str | None = None,
    columns: ColumnMap | None = None,
    name: str | None = None,
) -> KnowledgeData:
    """Read documents (and optionally questions) from JSONL, Parquet or CSV tables.

    `fmt` defaults to each file's suffix. Rows with `paraphrase_of` set are paraphrases
    of the row with that id; paraphrases take their original's population.
    """
    docs = Path(docs)
    cols = columns or ColumnMap()
    originals, paraphrases = _table_documents(docs, fmt or _suffix(docs), cols)
    qs = _question_frame([])
    if questions is not None:
        qs = _table_questions(Path(questions), fmt or _suffix(Path(questions)), cols)
    meta = {"source": fmt or _suffix(docs), "files": {k: str(v) for k, v in {"docs": docs, "questions": questions}.items() if v}}
    return _assemble(name or docs.stem, originals, paraphrases, qs, meta)


# ---- shared assembly ------------------------------------------------------------------
def _default_ids(prefix: str, n: int) -> list[str]:
    """Zero-padded so that sorting by id keeps file order."""
    width = len(str(max(n - 1, 0)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def _as_text(value, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {what!r} must be a non-empty string")
    return value


def _as_answers(value, where: str) -> list[str]:
    """A string or list of strings; a string holding a JSON list counts as that list
    (polars reads mixed string/list JSONL columns that way, and CSV can only carry that)."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    answers = [value] if isinstance(value, str) else value
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise DataError(f"{where}: answer must be a non-empty string or list of strings")
    return answers


def _paraphrase_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"paraphrase_of": pl.Utf8, "order": pl.Utf8, "text": pl.Utf8})


def _question_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "question_id": pl.Utf8,
        "question": pl.Utf8,
        "answers": pl.List(pl.Utf8),
        "direction": pl.Utf8,
        "group": pl.Utf8,
        "population": pl.Utf8,
        "split": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


class _EntityLinker:
    """Finds the one original document a question is about, via an inverted word index."""

    def __init__(self, originals: pl.DataFrame) -> None:
        self.ids = originals["doc_id"].to_list()
        self.texts = [normalize_space(t).casefold() for t in originals["text"]]
        self.index: dict[str, set[int]] = {}
        for i, text in enumerate(self.texts):
            for word in _words(text):
                self.index.setdefault(word, set()).add(i)

    def containing(self, phrase: str) -> set[int]:
        phrase = normalize_space(phrase).casefold()
        words = _words(phrase)
        if not words:
            return set()
        candidates = set.intersection(*(self.index.get(w, set()) for w in words))
        pattern = re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")
        return {i for i in candidates if pattern.search(self.texts[i])}

    def link(self, question: str, answers: list[str]) -> str:
        """The document holding the gold answer; several such documents are narrowed to
        those also naming one of the question's entities (an attribute shared by many
        people, asked about one of them). "" when still not exactly one."""
        found = set().union(*(self.containing(a) for a in answers))
        if len(found) > 1:
            named = set().union(*(self.containing(s) for s in entity_spans(question)))
            found &= named
        return self.ids[found.pop()] if len(found) == 1 else ""


def _assemble(name: str, originals: pl.DataFrame, paraphrases: pl.DataFrame, questions: pl.DataFrame, meta: dict) -> KnowledgeData:
    """The one place a `KnowledgeData` is built from the readers' intermediate frames."""
    paraphrases = paraphrases.join(originals.select("doc_id", "population"), left_on="paraphrase_of", right_on="doc_id", how="left")
    paraphrases = paraphrases.with_columns(
        (pl.int_range(pl.len()).over("paraphrase_of", "order") + 1).alias("index"),
        pl.col("paraphrase_of").alias("entity_id"),
    )
    paraphrases = paraphrases.with_columns(
        pl.struct("paraphrase_of", "order", "index")
        .map_elements(lambda r: paraphrase_id(r["paraphrase_of"], r["order"], r["index"]), return_dtype=pl.Utf8)
        .alias("doc_id")
    )
    originals = originals.with_columns(
        pl.col("doc_id").alias("entity_id"),
        pl.lit("original").alias("order"),
        pl.lit(None, dtype=pl.Utf8).alias("paraphrase_of"),
        pl.lit(0, dtype=pl.Int64).alias("index"),
    )
    columns = ["doc_id", "entity_id", "population", "text", "order", "paraphrase_of", "index"]
    documents = pl.concat([originals.select(columns), paraphrases.select(columns)]).with_columns(
        pl.col("text").map_elements(lambda t: json.dumps(entity_spans(t)), return_dtype=pl.Utf8).alias("entities"),
        pl.lit("{}").alias("facts"),
    )
    linker = _EntityLinker(originals)
    rows = questions.to_dicts()
    entity_ids = [linker.link(r["question"], r["answers"]) for r in rows]
    text_of = dict(zip(originals["doc_id"], originals["text"]))
    templates = [question_template(r["question"], r["answers"], text_of.get(e, "")) for r, e in zip(rows, entity_ids)]
    questions = questions.with_columns(
        pl.Series("entity_id", entity_ids, dtype=pl.Utf8),
        pl.Series("template", templates, dtype=pl.Utf8),
    )
    if questions.height and questions["split"].null_count() == questions.height:
        questions = assign_splits(questions)
    return KnowledgeData(name=name, documents=documents, questions=questions, meta=meta)
