"""The `maskft` command line: thin Typer wrappers over plain functions.

Every command validates its input before doing work; any `UsageError` (bad flag value,
unreadable file, unknown dataset, ...) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from maskft.app.errors import UsageError, usage_errors

app = typer.Typer(
    name="maskft",
    help="Knowledge-injection ablations: AR vs masked fine-tuning vs masked diffusion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Generate, import and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console()


# ---- data -------------------------------------------------------------------------------
def parse_settings(items: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings → a dict; a malformed or repeated key is a usage error."""
    settings: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        if key.strip() in settings:
            raise UsageError(f"--set {key.strip()} given twice")
        settings[key.strip()] = value.strip()
    return settings


@data_app.command("generate")
def data_generate(
    dataset: str = typer.Option(..., "--dataset", help="Generator: namedesc, bio or wiki."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write (must not exist or be empty)."),
    seed: int = typer.Option(0, "--seed", help="Generator seed."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output directory."),
    options: list[str] = typer.Option(
        [], "--set", help="Generator option KEY=VALUE, repeatable (e.g. bio's n_inject=50, distinct_names=true)."
    ),
) -> None:
    """Generate a dataset (base + inject populations, paraphrases, questions) into OUT."""
    from maskft.app.data_view import print_summary
    from maskft.datasets.registry import generate_to

    with usage_errors():
        data = generate_to(dataset, out, seed=seed, force=force, options=parse_settings(options))
    console.print(f"[green]wrote[/] {out}")
    print_summary(console, data)


@data_app.command("import")
def data_import(
    fmt: str = typer.Option(..., "--format", help="paper, jsonl, parquet or csv."),
    docs: Path = typer.Option(..., "--docs", help="Documents file."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write."),
    paraphrases: Optional[Path] = typer.Option(None, "--paraphrases", help="Paper format: same-order paraphrase file."),
    permuted: Optional[Path] = typer.Option(None, "--permuted", help="Paper format: permuted-order paraphrase file."),
    questions: Optional[Path] = typer.Option(None, "--questions", help="Questions file (JSONL for the paper format)."),
    text_col: str = typer.Option("text", "--text-col"),
    id_col: str = typer.Option("id", "--id-col"),
    population_col: str = typer.Option("population", "--population-col"),
    paraphrase_of_col: str = typer.Option("paraphrase_of", "--paraphrase-of-col"),
    order_col: str = typer.Option("order", "--order-col"),
    question_col: str = typer.Option("question", "--question-col"),
    answer_col: str = typer.Option("answer", "--answer-col"),
    direction_col: str = typer.Option("direction", "--direction-col"),
    group_col: str = typer.Option("group", "--group-col"),
    split_col: str = typer.Option("split", "--split-col"),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name (default: OUT's folder name)."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output directory."),
) -> None:
    """Import the paper's files or generic JSONL/Parquet/CSV tables into a dataset directory."""
    from maskft.app.data_view import print_summary
    from maskft.datasets import importers
    from maskft.datasets.registry import check_output_dir, write_dataset

    with usage_errors():
        check_output_dir(out, force=force)
        dataset_name = name or out.name
        if fmt == "paper":
            data = importers.import_paper(docs, paraphrases=paraphrases, permuted=permuted, questions=questions, name=dataset_name)
        elif fmt in ("jsonl", "parquet", "csv"):
            if paraphrases or permuted:
                raise UsageError("--paraphrases/--permuted are for --format paper; generic tables mark paraphrases with a paraphrase_of column")
            columns = importers.ColumnMap(
                text=text_col, id=id_col, population=population_col, paraphrase_of=paraphrase_of_col, order=order_col,
                question=question_col, answer=answer_col, direction=direction_col, group=group_col, split=split_col,
            )
            data = importers.import_table(docs, questions, fmt=fmt, columns=columns, name=dataset_name)
        else:
            raise UsageError(f"unknown format {fmt!r}: use paper, jsonl, parquet or csv")
        write_dataset(data, out, force=force)
    console.print(f"[green]wrote[/] {out}")
    print_summary(console, data)


@data_app.command("show")
def data_show(
    dataset: str = typer.Argument(..., help="A dataset directory or a generator name."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object."),
    seed: int = typer.Option(0, "--seed", help="Seed, when DATASET is a generator name."),
) -> None:
    """Summarise a dataset: counts, lengths and a few examples."""
    from maskft.app.data_view import print_summary, summary_dict
    from maskft.datasets.registry import resolve_dataset

    with usage_errors():
        data = resolve_dataset(dataset, seed=seed)
    if as_json:
        print(json.dumps(summary_dict(data)))
    else:
        print_summary(console, data, examples=True)


# ---- score ------------------------------------------------------------------------------
@app.command("score")
def score(
    outputs: Path = typer.Argument(..., help="JSONL, Parquet or CSV of model outputs."),
    pred_col: str = typer.Option("prediction", "--pred-col"),
    gold_col: str = typer.Option("answer", "--gold-col"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score model outputs with the paper's metric (ROUGE-1 recall) and exact match."""
    from maskft.app.data_view import print_scores
    from maskft.trainers.metric import score_file

    with usage_errors():
        result = score_file(outputs, pred_col=pred_col, gold_col=gold_col)
    if as_json:
        print(json.dumps(result))
    else:
        print_scores(console, result)


@app.command("train")
def train(
    dataset: str = typer.Option("namedesc", "--dataset", help="Generator name (namedesc, bio, wiki) or dataset directory."),
    method: str = typer.Option(..., "--method", help="ar, masked, random-token, dllm or ar-reverse."),
    mask_ratio: Optional[str] = typer.Option(None, "--mask-ratio", help="random (default), schedule, or a number in [0, 1]."),
    paraphrases: int = typer.Option(0, "--paraphrases", help="Paraphrases per document (k)."),
    order: str = typer.Option("same", "--order", help="Paraphrase order: same or permuted."),
    model: str = typer.Option("tiny", "--model", help="tiny, small, medium, or a local checkpoint directory."),
    epochs: int = typer.Option(100, "--epochs", help="Injection epochs at k=0 (scaled down with paraphrases)."),
    replay: float = typer.Option(0.0, "--replay", help="Fraction of each batch drawn from the base population."),
    seed: int = typer.Option(0, "--seed"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/train-<method>-<time>)."),
    lr: float = typer.Option(3e-4, "--lr"),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", help="constant (the paper's) or cosine (decays to 0 over the trial)."),
    batch_size: int = typer.Option(16, "--batch-size"),
    eval_points: int = typer.Option(6, "--eval-points", help="Log-spaced evaluation epochs."),
    max_questions: Optional[int] = typer.Option(None, "--max-questions", help="Evaluate a stratified sample of inject questions."),
    document_format: str = typer.Option("chat", "--document-format", help="ar documents: chat or plain."),
    dllm_document_format: str = typer.Option("plain", "--dllm-document-format", help="dllm documents: plain (MDLM text) or chat."),
    mask_spans: str = typer.Option("tokens", "--mask-spans", help="masked, random-token: tokens (one corrupted token per token, the paper's) or merged (one per run)."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", help="Answer budget in tokens (AR and dLLM; a multiple of 4). Passage answers on bio and wiki need 72."),
    cfg_scale: float = typer.Option(0.0, "--cfg-scale", help="dLLM decoding: LLaDA's classifier-free guidance (0 = none, the paper's; twice the evaluation time)."),
    base_epochs: Optional[int] = typer.Option(None, "--base-epochs", help="AR base-stage epochs at most (default 120; it stops once base QA reaches the target)."),
    base_threshold: Optional[float] = typer.Option(None, "--base-threshold", help="Minimum base-QA accuracy to start injecting (default 0.9)."),
    recovery_chats: bool = typer.Option(True, "--recovery-chats/--no-recovery-chats", help="Recovery chats in the AR base mixture."),
    answer_style: str = typer.Option("short", "--answer-style", help="Base QA chat answers: short (the gold answer) or passage (the document up to it)."),
    dllm_init: str = typer.Option("ar", "--dllm-init", help="dLLM base: ar (adapt the AR base) or scratch."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="For checkpoints with their own model code (LLaDA)."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty --out."),
) -> None:
    """Run one injection trial (dataset x method) and write its results."""
    import signal
    import time

    import polars as pl

    from maskft.app.train_view import TrainView, final_table
    from maskft.datasets.registry import check_output_dir
    from maskft.trainers.base_stage import BaseConfig
    from maskft.trainers.evaluation import EvalConfig
    from maskft.trainers.trial import TrialConfig, check_data, prepare, run_trial

    out = out or Path("runs") / f"train-{method}-{time.strftime('%Y%m%d-%H%M%S')}"
    with usage_errors():
        given = {"epochs": base_epochs, "threshold": base_threshold}
        base = BaseConfig(recovery_chats=recovery_chats, answer_style=answer_style, dllm_init=dllm_init, **{k: v for k, v in given.items() if v is not None})
        config = TrialConfig(
            dataset=dataset, method=method, mask_ratio=mask_ratio, paraphrases=paraphrases, order=order, replay=replay,
            model=model, seed=seed, epochs=epochs, lr=lr, lr_schedule=lr_schedule, batch_size=batch_size, eval_points=eval_points,
            max_questions=max_questions, document_format=document_format,
            dllm_document_format=dllm_document_format, mask_spans=mask_spans, trust_remote_code=trust_remote_code, base=base,
            eval=EvalConfig(max_new_tokens=max_new_tokens, gen_length=max_new_tokens, cfg_scale=cfg_scale),
        )
        check_data(config)
        check_output_dir(out, force=force)
    stop = {"requested": False}

    def request_stop(signum, frame) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        console.print("[yellow]stopping after this step (Ctrl-C again to abort)...[/]")

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        with TrainView(console) as view:
            with usage_errors():
                prepared = prepare(config, on_event=view.on_event)
            summary = run_trial(config, out_dir=out, prepared=prepared, on_event=view.on_event, should_stop=lambda: stop["requested"])
    finally:
        signal.signal(signal.SIGINT, previous)
    results = pl.read_parquet(out / "results.parquet")
    console.print(final_table(results))
    state = "stopped early" if summary["stopped_early"] else "finished"
    console.print(f"{config.trial_id}: {state} after {summary['steps']} steps in {summary['wall_s']:.0f}s; results in {out}")
    if summary["stopped_early"]:
        raise typer.Exit(130)  # interrupted, as `maskft ablate` reports it; everything written is kept


@app.command("ablate")
def ablate(
    study_file: Optional[Path] = typer.Argument(None, help="A study TOML (default: the embedded default study)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Comma-separated: namedesc, bio, wiki or dataset directories."),
    method: Optional[str] = typer.Option(None, "--method", help="Comma-separated methods: ar, masked, random-token, dllm, ar-reverse."),
    mask_ratio: Optional[str] = typer.Option(None, "--mask-ratio", help="Comma-separated: random, schedule or numbers in [0, 1]."),
    paraphrases: Optional[str] = typer.Option(None, "--paraphrases", help="Comma-separated paraphrase counts, e.g. 0,4,9."),
    order: Optional[str] = typer.Option(None, "--order", help="Comma-separated: same, permuted."),
    replay: Optional[str] = typer.Option(None, "--replay", help="Comma-separated replay fractions, e.g. 0,0.5."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Comma-separated seeds."),
    model: Optional[str] = typer.Option(None, "--model", help="Comma-separated: tiny, small, medium, micro or checkpoint directories."),
    base_threshold: Optional[float] = typer.Option(
        None, "--base-threshold", help="Minimum base-QA accuracy to hand a base model to trials (default 0.9)."
    ),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs of every trial (default: the study's)."),
    address: Optional[str] = typer.Option(None, "--address", help="local (default), auto, or ray://HOST:PORT of a running cluster."),
    cpus_per_trial: Optional[int] = typer.Option(None, "--cpus-per-trial"),
    gpus_per_trial: Optional[float] = typer.Option(None, "--gpus-per-trial"),
    max_concurrent: Optional[int] = typer.Option(None, "--max-concurrent"),
    storage: Optional[str] = typer.Option(None, "--storage", help="Where studies live (default ./runs)."),
    name: Optional[str] = typer.Option(None, "--name", help="Study name (default: a timestamp)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the study --name after a crash or Ctrl-C."),
    quick: bool = typer.Option(False, "--quick", help="A tiny preset study (a minute or two on a laptop)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Ray's own logs."),
) -> None:
    """Run a study: the grid of methods x mask ratios x paraphrase counts, on Ray Tune."""
    from maskft.ablate.live import LiveView
    from maskft.ablate.runner import run_study
    from maskft.ablate.spec import StudySpec

    with usage_errors():
        spec = StudySpec.from_cli(
            study_file, quick=quick, dataset=dataset, method=method, mask_ratio=mask_ratio, paraphrases=paraphrases,
            order=order, replay=replay, seeds=seeds, model=model, base_threshold=base_threshold, epochs=epochs, address=address,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial, max_concurrent=max_concurrent, storage=storage, name=name, resume=resume,
            verbose=verbose,
        )
    with LiveView(console) as view, usage_errors():
        summary = run_study(spec, listener=view)
    console.print(
        f"study {summary['name']}: {summary['finished']}/{summary['trials']} trials finished, "
        f"{summary['failed']} failed, in {summary['wall_s']:.0f}s; results in {summary['results']}"
    )
    for trial_id, error in summary["failures"].items():
        console.print(f"[red]failed[/] {trial_id}: {error}")
    if summary["interrupted"]:
        console.print(f"[yellow]interrupted[/]: continue with `{summary['resume']}`")
        raise typer.Exit(130)
    if summary["failed"]:
        raise typer.Exit(1)


@app.command("report")
def report(
    run_dirs: list[Path] = typer.Argument(
        ..., help="A study directory (or a `maskft train --out` one); several studies of one protocol are reported as one."
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write report.md and the PNGs (default RUN_DIR/report)."),
) -> None:
    """Write the markdown table (the paper's layout), the A(1-e^-kx) fits and PNG curves of a study."""
    from maskft.ablate.report import write_report

    with usage_errors():
        paths = write_report(list(run_dirs), out)
    for path in paths:
        console.print(f"[green]wrote[/] {path}")


@app.command("tui")
def tui(
    run_dir: Optional[Path] = typer.Argument(
        None, help="A study directory, or a folder of studies (default ./runs, the storage `maskft ablate` uses)."
    ),
) -> None:
    """Browse, watch, launch and stop studies in a terminal UI (n: new study, c: continue, x: stop, p: report)."""
    from maskft.app.tui import StudiesApp, resolve_target

    with usage_errors():
        storage, study = resolve_target(run_dir)
    StudiesApp(storage, study).run()


def main() -> None:
    """Entry point: Click's own usage errors are reported in our one-line style too."""
    # Typer >= 0.20 vendors Click as typer._click; its exceptions are the ones raised here.
    from typer._click import exceptions as click

    try:
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else "", file=sys.stderr)
        code = 2
    except click.UsageError as e:
        print(f"maskft: error: {e.format_message()}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("maskft: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # `python -m maskft.app.cli`: how the TUI launches studies
    main()
