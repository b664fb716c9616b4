"""Rich renderings of a dataset summary and of a score summary (`data show`, `score`)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from maskft.datasets.schema import KnowledgeData


def summary_dict(data: KnowledgeData) -> dict:
    """The counts `data show --json` prints, with token lengths under the dataset's own tokenizer."""
    from maskft.datasets.summary import summarize
    from maskft.datasets.tokenizer import build_tokenizer

    tok = build_tokenizer(data.documents["text"].to_list() + data.questions["question"].to_list())
    return summarize(data, count_tokens=lambda text: len(tok.encode(text, add_special_tokens=False)))


def print_summary(console: Console, data: KnowledgeData, examples: bool = False) -> None:
    summary = summary_dict(data)
    console.print(f"[bold]{data.name}[/]  {json.dumps(data.meta, sort_keys=True) if data.meta else ''}")
    console.print(_documents_table(summary))
    console.print(_questions_table(summary))
    if examples:
        _print_examples(console, data)


def _documents_table(summary: dict) -> Table:
    table = Table(title="documents", title_justify="left")
    for column in ("population", "originals", "same-order paraphrases", "permuted paraphrases", "per doc (same/permuted)", "words mean/max", "tokens mean/max"):
        table.add_column(column, justify="right" if column != "population" else "left")
    for population, d in summary["documents"].items():
        lengths = summary["lengths"].get(population, {})
        table.add_row(
            population,
            str(d["originals"]),
            str(d["paraphrases"].get("same", 0)),
            str(d["paraphrases"].get("permuted", 0)),
            f"{_range(d['per_document'].get('same'))} / {_range(d['per_document'].get('permuted'))}",
            f"{lengths.get('words_mean', 0):.1f} / {lengths.get('words_max', 0)}",
            f"{lengths.get('tokens_mean', 0):.1f} / {lengths.get('tokens_max', 0)}" if "tokens_mean" in lengths else "-",
        )
    return table


def _questions_table(summary: dict) -> Table:
    table = Table(title="questions", title_justify="left")
    for column in ("population", "split", "direction", "group", "n"):
        table.add_column(column, justify="right" if column == "n" else "left")
    for row in summary["questions"]["by_cell"]:
        table.add_row(row["population"], row["split"], row["direction"], row["group"] or "-", str(row["n"]))
    return table


def _range(r: dict | None) -> str:
    if not r:
        return "0"
    return str(r["min"]) if r["min"] == r["max"] else f"{r['min']}-{r['max']}"


def _print_examples(console: Console, data: KnowledgeData, n: int = 2) -> None:
    import polars as pl

    inject = data.originals("inject")
    for row in inject.head(n).iter_rows(named=True):
        console.print(f"[bold cyan]document[/] {row['doc_id']}: {row['text']}")
        paras = data.documents.filter(pl.col("paraphrase_of") == row["doc_id"]).sort("order", "index")
        for order in ("same", "permuted"):
            first = paras.filter(pl.col("order") == order).head(1)
            if first.height:
                console.print(f"  [dim]{order}-order paraphrase:[/] {first['text'][0]}")
        qs = data.questions.filter(pl.col("entity_id") == row["entity_id"]).head(4)
        for q in qs.iter_rows(named=True):
            console.print(f"  [magenta]{q['direction']:>8} {q['group']}[/] {q['question']}  [green]→ {' | '.join(q['answers'])}[/]")


def print_scores(console: Console, result: dict) -> None:
    table = Table(title=f"{result['n']} outputs scored (ROUGE-1 recall, the paper's metric)", title_justify="left")
    for column in ("slice", "n", "accuracy", "exact match"):
        table.add_column(column, justify="left" if column == "slice" else "right")
    table.add_row("all", str(result["n"]), _fmt(result["accuracy"]), _fmt(result["exact_match"]), end_section=True)
    for key, label in (("by_direction", "direction"), ("by_group", "group")):
        for name, cell in result.get(key, {}).items():
            table.add_row(f"{label} {name or '-'}", str(cell["n"]), _fmt(cell["accuracy"]), _fmt(cell["exact_match"]))
        if result.get(key):
            table.rows[-1].end_section = True
    console.print(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
