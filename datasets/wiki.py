"""The `wiki` generator: encyclopedic paragraphs about fictitious events and places of 2025.

Mirrors the paper's Wiki set (first sections of Wikipedia pages created in 2025, with
o3-mini paraphrases and cue/answer-swapped question pairs), built from templates so the
facts are known exactly. Each article is about one subject of one kind (festival,
wildfire, bridge, startup, museum, election, sports final), with that kind's own facts.

- Text: a kind is a list of sentence slots, each with alternative templates; the order
  of the placeholders in a template is the order in which it states its facts, and
  `[a|b]` marks interchangeable wording. Articles pick one template per slot at random,
  so some open with the subject and others with a date or a place.
- Paraphrases (`n_paraphrases` counts the original, as the paper's sets of 10 do):
  `same` rewords every sentence with templates stating the same facts in the same
  order; `permuted` shuffles the sentences and may invert clauses (passive voice,
  swapped coordinated nouns), and always changes the order of the facts.
- Questions: for a few facts per article, a pair whose cue and answer are swapped
  ("Who organised X?" / "Which festival did Y organise?"). The direction is computed,
  not assigned: `forward` when the cue comes first in the original text. Every value a
  question uses as a cue is drawn without replacement within its kind (places and
  people across the whole dataset), so a cue names exactly one article.

The kinds themselves (facts, value pools, templates, question frames) live in
`wiki_content.py`.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from maskft.datasets.schema import DOCUMENT_SCHEMA, QUESTION_SCHEMA, DataError, KnowledgeData, assign_splits, document_row
from maskft.datasets.wiki_content import KINDS, Kind  # the class Kind puts wiki_content in registry.source_hash

PAIRS_PER_ARTICLE = 3  # question pairs (cue ↔ answer) asked about each article
MAX_ANSWER_WORDS = 5
_MAX_TRIES = 2000  # attempts at one distinct paraphrase before giving up


# ---- articles -------------------------------------------------------------------------
@dataclass(frozen=True)
class Article:
    """One subject with all its facts: the ground truth its texts and questions come from."""

    entity_id: str
    population: str
    kind: Kind
    name: str
    values: dict[str, str]  # fact key -> surface string, as it appears in every text

    @property
    def subject(self) -> str:
        return self.kind.determiner + self.name

    def surfaces(self) -> dict[str, str]:
        return {"name": self.name, **self.values}


class _Draws:
    """Values drawn without replacement: one shuffled queue per pool (shared pools span kinds)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.queues: dict[str, list[str]] = {}

    def unique(self, key: str, values: tuple[str, ...] | Callable[[random.Random], list[str]], taken: list[str]) -> str:
        queue = self.queues.get(key)
        if queue is None:
            queue = list(values(self.rng) if callable(values) else values)
            self.rng.shuffle(queue)
            self.queues[key] = queue
        for i, value in enumerate(queue):
            if not _collides(value, taken):
                return queue.pop(i)
        raise DataError(f"wiki ran out of distinct values for {key!r}: generate fewer articles")

    def context(self, values: tuple[str, ...], taken: list[str]) -> str:
        return self.rng.choice([v for v in values if not _collides(v, taken)])


def _collides(value: str, taken: list[str]) -> bool:
    """A value inside another of the same article would make its position ambiguous."""
    return any(value in t or t in value for t in taken)


def _articles(rng: random.Random, n_base: int, n_inject: int) -> list[Article]:
    """Kinds are dealt round-robin in a shuffled order, so every kind is about equally common."""
    draws = _Draws(rng)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    articles = []
    for population, count in (("base", n_base), ("inject", n_inject)):
        for i in range(count):
            kind = kinds[len(articles) % len(kinds)]
            name = draws.unique(f"{kind.name}:name", kind.names, [])
            values: dict[str, str] = {}
            for fact in kind.facts:
                taken = [name, *values.values()]
                if fact.group is None and fact.shared is None:
                    values[fact.key] = draws.context(fact.values, taken)
                else:
                    values[fact.key] = draws.unique(fact.shared or f"{kind.name}:{fact.key}", fact.values, taken)
            articles.append(Article(f"wiki-{population}-{i:04d}", population, kind, name, values))
    return articles


# ---- documents ------------------------------------------------------------------------
ALTERNATION = re.compile(r"\[([^\[\]]*)\]")


def template_fields(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def _signature(template: str) -> tuple[str, ...]:
    """The facts a template states, in order (`ref` may or may not be the name: not counted)."""
    return tuple("name" if f == "subject" else f for f in template_fields(template) if f != "ref")


def _render(rng: random.Random, article: Article, templates: list[str]) -> str:
    """Fill `templates` (one per sentence) with the article's facts and random wording.

    `{ref}` is the subject's name in the first sentence, a short noun phrase after it.
    """
    ref = rng.choice(article.kind.refs)
    sentences = []
    for position, template in enumerate(templates):
        worded = ALTERNATION.sub(lambda m: rng.choice(m.group(1).split("|")), template)
        text = worded.format(subject=article.subject, ref=article.subject if position == 0 else ref, **article.values)
        sentences.append(text[0].upper() + text[1:])
    return " ".join(sentences)


def fact_order(text: str, surfaces: dict[str, str]) -> list[str]:
    """Fact keys in the order of their first appearance in `text`."""
    return sorted(surfaces, key=lambda key: text.index(surfaces[key]))


def _texts(rng: random.Random, article: Article, n_paraphrases: int) -> list[tuple[str, int, str]]:
    """(order, index, text): the original, then `n_paraphrases - 1` paraphrases per order."""
    slots = article.kind.slots
    chosen = [rng.choice(slot) for slot in slots]
    original = _render(rng, article, chosen)
    surfaces = article.surfaces()
    original_order = fact_order(original, surfaces)
    seen = {original}

    def reworded() -> str | None:
        templates = []
        for slot, first in zip(slots, chosen):
            alike = [t for t in slot if _signature(t) == _signature(first)]
            templates.append(rng.choice([t for t in alike if t != first] or alike))
        return _render(rng, article, templates)

    def reordered() -> str | None:
        order = rng.sample(range(len(slots)), len(slots))
        text = _render(rng, article, [rng.choice(slots[i]) for i in order])
        return text if fact_order(text, surfaces) != original_order else None

    def distinct(make: Callable[[], str | None]) -> str:
        for _ in range(_MAX_TRIES):
            text = make()
            if text is not None and text not in seen:
                seen.add(text)
                return text
        raise DataError(f"wiki could not write {n_paraphrases - 1} distinct paraphrases of {article.entity_id}; ask for fewer")

    texts = [("original", 0, original)]
    texts += [("same", i, distinct(reworded)) for i in range(1, n_paraphrases)]
    texts += [("permuted", i, distinct(reordered)) for i in range(1, n_paraphrases)]
    return texts


def _document_rows(rng: random.Random, article: Article, n_paraphrases: int) -> list[dict]:
    surfaces = article.surfaces()
    rows = []
    for order, index, text in _texts(rng, article, n_paraphrases):
        reading_order = fact_order(text, surfaces)
        facts = {"kind": article.kind.name, "subject": article.subject, **surfaces, "order": reading_order}
        entities = [surfaces[key] for key in reading_order]
        rows.append(document_row(article.entity_id, article.population, text, order, index, entities, facts))
    return rows


# ---- questions ------------------------------------------------------------------------
def _answers(article: Article, key: str) -> list[str]:
    """The surface string, plus the bare number for values with a unit ("42,300 visitors")."""
    value = article.surfaces()[key]
    if key != "name" and article.kind.fact(key).unit:
        return [value, value.rsplit(" ", 1)[0]]
    return [value]


def _question_rows(rng: random.Random, article: Article, original: str) -> list[dict]:
    """A cue/answer-swapped pair for each of PAIRS_PER_ARTICLE facts, directions from `original`."""
    kind, surfaces = article.kind, article.surfaces()
    rows = []
    for key in rng.sample(sorted(kind.questions), min(PAIRS_PER_ARTICLE, len(kind.questions))):
        for role, (cue, answer) in enumerate((("name", key), (key, "name"))):
            templates = kind.questions[key][role]
            frame = rng.randrange(len(templates))
            question = templates[frame].format(subject=article.subject, value=surfaces[key])
            answers = _answers(article, answer)
            if len(answers[0].split()) > MAX_ANSWER_WORDS:
                raise DataError(f"wiki answer {answers[0]!r} has more than {MAX_ANSWER_WORDS} words")
            template = f"{kind.name}.{key}.{'value' if role == 0 else 'name'}:{frame}"
            rows.append({
                "question_id": f"{article.entity_id}/{key}/{'value' if role == 0 else 'name'}",
                "entity_id": article.entity_id,
                "population": article.population,
                "question": question,
                "answers": answers,
                "direction": "forward" if original.index(surfaces[cue]) < original.index(surfaces[answer]) else "backward",
                "group": kind.fact(key).group,
                "template": template,
            })
    return rows


def _check_unique_cues(articles: list[Article]) -> None:
    """A question's cue must single out one article: asked values are unique within a kind."""
    seen: dict[tuple[str, str, str], str] = {}
    for article in articles:
        for key in ("name", *article.kind.questions):
            cue = (article.kind.name, key, article.surfaces()[key])
            if cue in seen:
                raise DataError(f"wiki {key} {cue[2]!r} is shared by {seen[cue]} and {article.entity_id}")
            seen[cue] = article.entity_id


# ---- the generator --------------------------------------------------------------------
def generate(seed: int = 0, n_base: int = 240, n_inject: int = 94, n_paraphrases: int = 10) -> KnowledgeData:
    """The wiki dataset: articles, `n_paraphrases - 1` paraphrases per order, question pairs.

    `n_paraphrases` counts the original, as in the paper's sets of 10 (94 × 10 = 940).
    """
    if n_base < 0 or n_inject < 1:
        raise DataError(f"wiki needs n_base >= 0 and n_inject >= 1, got {n_base} and {n_inject}")
    if n_paraphrases < 1:
        raise DataError(f"wiki n_paraphrases counts the original and must be at least 1, got {n_paraphrases}")
    rng = random.Random(seed)
    articles = _articles(rng, n_base, n_inject)
    _check_unique_cues(articles)
    documents, questions = [], []
    for article in articles:
        rows = _document_rows(rng, article, n_paraphrases)
        documents += rows
        questions += _question_rows(rng, article, rows[0]["text"])
    question_schema = {k: v for k, v in QUESTION_SCHEMA.items() if k != "split"}
    return KnowledgeData(
        name="wiki",
        documents=pl.DataFrame(documents, schema=DOCUMENT_SCHEMA),
        questions=assign_splits(pl.DataFrame(questions, schema=question_schema)).sort("question_id"),
        meta={"generator": "wiki", "seed": seed, "n_base": n_base, "n_inject": n_inject, "n_paraphrases": n_paraphrases,
              "kinds": [kind.name for kind in KINDS]},
    )

