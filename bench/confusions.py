"""Wrong answers, by what they are: another entity's fact, or nothing the data knows.

    python bench/confusions.py STUDY_DIR [STUDY_DIR ...] [--by-group]

At each trial's best `val` point (the point bench/science.py reports), every test
question about the inject population that is answered wrongly (ROUGE-1 recall < 0.5) is
sorted by whether the prediction holds every content word of the answer the dataset gives
to the *same question group* for some *other* entity:
  inject — another inject entity's answer (a fact that was injected, bound to the wrong cue);
  base   — a base entity's answer (a fact from the base stage);
  neither.
Many `inject` answers mean the model retrieves injected facts but keys them on the wrong
entity: an extraction failure, not missing knowledge (bench/extraction.py shows the same
facts completed from their own documents). The sort means most where answers are nearly
unique per entity (namedesc, bio's names, wiki); in a group of a few dozen shared values
(bio's universities, cities, majors) any answer of the right type is someone's.
Beside the sort, where the dataset's facts name each entity (bio, namedesc, wiki): the share
of answers that carry the asked entity's full name and their accuracy. A model that recites
documents (the passage and cue-first bases) answers forward by writing the name first; an
answer without it recites someone else or no one, however well the facts were stored.
Where the facts also describe each entity (namedesc), the same for the asked entity's
description, verbatim: asked for a name by its description, an answer that
recites the asked entity's description-first document is right; one that recites another's
is not, so the share says how often the model picks the document the question describes.
Counts are pooled over seeds.
Exit code 0, or 2 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

from maskft.ablate.store import load_studies
from maskft.datasets.registry import resolve_dataset
from maskft.trainers.metric import content_words
from maskft.trainers.results import CONDITION_COLUMNS, headline

WRONG_BELOW = 0.5  # ROUGE-1 recall under which an answer counts as wrong
KINDS = ("inject", "base", "neither")


def answer_pools(questions: pl.DataFrame) -> dict[str, list[tuple[str, str, frozenset[str]]]]:
    """Per question group: (entity, population, content words of its first gold answer)."""
    pools: dict[str, list] = {}
    rows = questions.select("group", "entity_id", "population", pl.col("answers").list.first()).unique()
    for group, entity, population, answer in rows.sort("group", "entity_id").iter_rows():
        words = frozenset(content_words(answer or ""))
        if words:
            pools.setdefault(group, []).append((entity, population, words))
    return pools


def classify(predictions: pl.DataFrame, questions: pl.DataFrame) -> pl.DataFrame:
    """`predictions` (question_id, prediction, accuracy, ...) with a `wrong_kind` column: null
    for a right answer, else one of KINDS (see the module docstring)."""
    pools = answer_pools(questions)
    rows = predictions.join(questions.select("question_id", "entity_id"), on="question_id", how="left")

    def kind(prediction: str, accuracy: float, group: str, entity: str) -> str | None:
        if accuracy >= WRONG_BELOW:
            return None
        said = content_words(prediction or "")
        owners = {pop for other, pop, words in pools.get(group, []) if other != entity and words <= said}
        return "inject" if "inject" in owners else "base" if "base" in owners else "neither"

    kinds = [kind(*row) for row in rows.select("prediction", "accuracy", "group", "entity_id").iter_rows()]
    return rows.with_columns(pl.Series("wrong_kind", kinds, dtype=pl.Utf8))


def entity_facts(documents: pl.DataFrame, key: str) -> dict[str, str]:
    """Entity id -> its fact `key` (name, description) from the originals' facts (entities
    whose facts lack it are left out)."""
    originals = documents.filter(pl.col("order") == "original").select("entity_id", "facts")
    values = {entity: json.loads(facts or "{}").get(key) for entity, facts in originals.iter_rows()}
    return {entity: value for entity, value in values.items() if isinstance(value, str) and value}


def mark_holding(rows: pl.DataFrame, facts: dict[str, str], column: str) -> pl.DataFrame:
    """`rows` (entity_id, prediction) with `column`: does the answer hold the asked entity's
    fact verbatim (null where the entity has none)."""
    held = [None if e not in facts else facts[e] in (p or "") for e, p in rows.select("entity_id", "prediction").iter_rows()]
    return rows.with_columns(pl.Series(column, held, dtype=pl.Boolean))


def confusion_table(study_dirs: list[Path], by_group: bool = False) -> pl.DataFrame:
    """Per condition and direction (and question group, with `by_group`): trials, questions,
    wrong share, and the wrong answers' kinds."""
    results = load_studies(study_dirs)
    summary = headline(results)
    if summary.height == 0:
        raise ValueError(f"no finished evaluation point in {', '.join(map(str, study_dirs))}")
    best = dict(summary.select("trial_id", "best_epoch").iter_rows())
    conditions = results.select("trial_id", *CONDITION_COLUMNS).unique("trial_id")
    dataset_of = dict(conditions.select("trial_id", "dataset").iter_rows())
    questions: dict[str, pl.DataFrame] = {}  # per dataset, generated or read once
    facts: dict[str, tuple[dict[str, str], dict[str, str]]] = {}  # per dataset: names, descriptions
    frames, seen = [], set()
    for trial_dir in sorted(p for d in study_dirs for p in (Path(d) / "trials").glob("*")):
        trial_id = trial_dir.name
        if trial_id not in best or trial_id in seen or not (trial_dir / "predictions.parquet").is_file():
            continue
        seen.add(trial_id)
        dataset = dataset_of[trial_id]
        if dataset not in questions:
            data = resolve_dataset(dataset, seed=0)
            questions[dataset] = data.questions
            facts[dataset] = entity_facts(data.documents, "name"), entity_facts(data.documents, "description")
        predictions = pl.read_parquet(trial_dir / "predictions.parquet").filter(
            (pl.col("epoch") == best[trial_id]) & (pl.col("population") == "inject") & (pl.col("split") == "test")
        )
        names, descriptions = facts[dataset]
        classified = mark_holding(mark_holding(classify(predictions, questions[dataset]), names, "named"), descriptions, "described")
        frames.append(classified.with_columns(pl.lit(trial_id).alias("trial_id")))
    if not frames:
        raise ValueError("no trial predictions found under the study directories")
    rows = pl.concat(frames, how="diagonal_relaxed").join(conditions, on="trial_id")
    keys = [*CONDITION_COLUMNS, "direction", *(["group"] if by_group else [])]
    wrong = pl.col("wrong_kind").is_not_null()
    return (
        rows.group_by(keys)
        .agg(
            pl.col("trial_id").n_unique().alias("trials"),
            pl.len().alias("questions"),
            pl.col("accuracy").mean().round(2).alias("accuracy"),
            (wrong.sum() / pl.len()).round(2).alias("wrong"),
            *[((pl.col("wrong_kind") == k).sum() / wrong.sum()).round(2).alias(f"of wrong: {k}") for k in KINDS],
            (pl.col("named").sum() / pl.col("named").count()).round(2).alias("naming the asked"),
            pl.col("accuracy").filter(pl.col("named")).mean().round(2).alias("accuracy when naming"),
            (pl.col("described").sum() / pl.col("described").count()).round(2).alias("describing the asked"),
            pl.col("accuracy").filter(pl.col("described")).mean().round(2).alias("accuracy when describing"),
        )
        .sort(keys, nulls_last=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dirs", nargs="+", type=Path, metavar="STUDY_DIR", help="one or more study directories, merged")
    parser.add_argument("--by-group", action="store_true", help="split each direction by question group (namedesc: N2D, D2N)")
    args = parser.parse_args(argv)
    try:
        table = confusion_table(args.study_dirs, by_group=args.by_group)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        unused = ["model"] if table["model"].n_unique() == 1 else []
        unused += [c for c in ("describing the asked", "accuracy when describing") if table[c].null_count() == table.height]
        print(table.drop(unused).with_columns(pl.col("dataset").str.split("/").list.last()))  # a directory's name, not its path
    return 0


if __name__ == "__main__":
    sys.exit(main())
