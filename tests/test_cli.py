"""The `maskft` command line: real work on good input, one line and exit 2 on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from maskft.app.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


def maskft(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["maskft", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maskft: error:"), err
    assert fragment in lines[0]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKFT_CACHE", str(tmp_path / "cache"))


def test_data_generate_writes_a_dataset_directory(tmp_path, monkeypatch, capsys):
    code, out, _ = maskft(monkeypatch, capsys, "data", "generate", "--dataset", "namedesc", "--out", str(tmp_path / "nd"))
    assert code == 0
    assert {"documents.parquet", "questions.parquet", "meta.json"} <= {p.name for p in (tmp_path / "nd").iterdir()}
    assert "documents" in out and "questions" in out


def test_data_generate_refuses_a_non_empty_directory_and_leaves_it_alone(tmp_path, monkeypatch, capsys):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    code, _, err = maskft(monkeypatch, capsys, "data", "generate", "--dataset", "bio", "--out", str(target))
    assert_one_line_error(code, err, "busy")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_data_generate_passes_set_options_to_the_generator(tmp_path, monkeypatch, capsys):
    args = ["--set", "n_base=4", "--set", "n_inject=3", "--set", "n_paraphrases=2", "--set", "distinct_names=true"]
    code, _, err = maskft(monkeypatch, capsys, "data", "generate", "--dataset", "bio", *args, "--out", str(tmp_path / "b"))
    assert code == 0, err
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    assert (meta["n_inject"], meta["distinct_names"]) == (3, True)


@pytest.mark.parametrize(("setting", "fragment"), [("distinct_names", "KEY=VALUE"), ("size=3", "no option 'size'")])
def test_data_generate_bad_set_option_is_a_one_line_error(tmp_path, monkeypatch, capsys, setting, fragment):
    code, _, err = maskft(monkeypatch, capsys, "data", "generate", "--dataset", "bio", "--set", setting, "--out", str(tmp_path / "b"))
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "b").exists()


def test_unknown_dataset_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    code, _, err = maskft(monkeypatch, capsys, "data", "generate", "--dataset", "imdb", "--out", str(tmp_path / "x"))
    assert_one_line_error(code, err, "unknown generator 'imdb'")
    assert not (tmp_path / "x").exists()


def test_data_show_json_counts_documents_and_questions(monkeypatch, capsys):
    code, out, _ = maskft(monkeypatch, capsys, "data", "show", "namedesc", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["documents"]["inject"]["originals"] == 60
    assert summary["documents"]["inject"]["per_document"]["same"]["min"] >= 29
    assert set(summary["questions"]["by_direction"]) == {"forward", "backward"}


def test_data_import_of_the_papers_format(tmp_path, monkeypatch, capsys):
    paper = FIXTURES / "paper"
    code, _, err = maskft(
        monkeypatch, capsys, "data", "import", "--format", "paper", "--docs", str(paper / "nd_docs.json"),
        "--paraphrases", str(paper / "nd_paraphrases.json"), "--questions", str(paper / "nd_test.jsonl"),
        "--out", str(tmp_path / "nd"),
    )
    assert code == 0, err
    questions = pl.read_parquet(tmp_path / "nd" / "questions.parquet")
    assert set(questions["direction"]) == {"forward", "backward"}


def test_data_import_of_a_malformed_file_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "docs.json"
    bad.write_text("[{'text': 'not json'")
    code, _, err = maskft(monkeypatch, capsys, "data", "import", "--format", "paper", "--docs", str(bad), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "docs.json")
    assert not (tmp_path / "o").exists()


def test_score_prints_accuracy_per_direction_as_json(tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs.jsonl"
    rows = [
        {"question": "Who?", "answer": "Daphne Barrington", "prediction": "It is Daphne Barrington.", "direction": "forward", "group": "D2N"},
        {"question": "What?", "answer": "the director of Time", "prediction": "nobody", "direction": "backward", "group": "N2D"},
    ]
    outputs.write_text("\n".join(json.dumps(r) for r in rows))
    code, out, _ = maskft(monkeypatch, capsys, "score", str(outputs), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["n"] == 2 and result["accuracy"] == 0.5
    assert result["by_direction"]["forward"]["accuracy"] == 1.0
    assert result["by_direction"]["backward"]["accuracy"] == 0.0


def test_score_of_a_missing_column_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(json.dumps({"question": "q", "answer": "a"}))
    code, _, err = maskft(monkeypatch, capsys, "score", str(outputs))
    assert_one_line_error(code, err, "prediction")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--method", "sgd"], "unknown method 'sgd'"),
        (["--method", "masked", "--mask-ratio", "1.5"], "mask ratio must be"),
        (["--method", "ar", "--paraphrases", "99"], "99 same-order paraphrases requested"),
        (["--method", "ar", "--model", "/no/such/dir"], "neither a preset"),
        (["--method", "ar", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["--method", "ar", "--answer-style", "essay"], "answer_style must be one of short, passage"),
        (["--method", "ar", "--max-new-tokens", "30"], "not a multiple of block_length 4"),
        (["--method", "ar", "--mask-spans", "merged"], "applies to masked and random-token only"),
    ],
)
def test_train_rejects_bad_input_before_any_work(tmp_path, monkeypatch, capsys, args, fragment):
    code, _, err = maskft(monkeypatch, capsys, "train", *args, "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "run").exists()


def test_unknown_option_is_a_one_line_error(monkeypatch, capsys):
    code, _, err = maskft(monkeypatch, capsys, "train", "--method", "ar", "--epohcs", "3")
    assert_one_line_error(code, err, "--epohcs")


def test_train_runs_a_trial_on_a_local_checkpoint_and_prints_the_table(tmp_path, monkeypatch, capsys, dataset_dir, checkpoint):
    code, out, err = maskft(
        monkeypatch, capsys, "train", "--dataset", str(dataset_dir), "--method", "masked", "--model", str(checkpoint),
        "--epochs", "2", "--eval-points", "1", "--batch-size", "8", "--max-questions", "8", "--out", str(tmp_path / "run"),
    )
    assert code == 0, err
    results = pl.read_parquet(tmp_path / "run" / "results.parquet")
    assert sorted(results["epoch"].unique()) == [0, 2]
    assert "forward" in out and "backward" in out and "retention" in out


def test_train_view_shows_accuracy_beside_the_progress_bar():
    from rich.console import Console

    from maskft.app.train_view import TrainView
    from maskft.trainers.loop import TrainState
    from maskft.trainers.results import RESULT_SCHEMA

    row = {c: None for c in RESULT_SCHEMA} | {
        "epoch": 12, "population": "inject", "split": "test", "direction": "backward", "n": 4, "accuracy": 0.5,
    }
    console = Console(record=True, width=160, force_terminal=True)
    with TrainView(console) as view:
        view.on_event("step", TrainState(epoch=11, step=5, total_steps=10, loss=0.5))
        view.on_event("eval", pl.DataFrame([row], schema=RESULT_SCHEMA))
        view.on_event("step", TrainState(epoch=12, step=6, total_steps=10, loss=0.4))
        view.progress.refresh()
    text = console.export_text()
    assert "epoch   12" in text and "bwd 0.50" in text
