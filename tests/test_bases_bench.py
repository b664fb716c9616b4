"""bench/bases.py: trial seeds grouped by base model and base setting (hand-made studies, no training)."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from maskft.bench.bases import base_means, main, per_trial, spread
from maskft.datasets.schema import KnowledgeData
from maskft.trainers.base_stage import BaseConfig, base_dir
from maskft.trainers.results import conform


def study(path, forwards: dict[int, float], base: str = "", trial: str = "", dataset: str = "namedesc", cache=None) -> str:
    """A finished study of AR trials (seed -> test forward accuracy at the best point, which
    is epoch 1) with the given [base] and [trial] settings."""
    rows = []
    for seed, fwd in forwards.items():
        condition = {"trial_id": f"{path.name}-s{seed}", "dataset": dataset, "method": "ar", "mask_ratio": None,
                     "paraphrases": 9, "order": "same", "replay": 0.0, "model": "tiny", "seed": seed}
        for epoch in (0, 1):
            point = {**condition, "epoch": epoch, "step": epoch, "docs_seen": epoch, "tokens_seen": epoch,
                     "wall_s": float(epoch), "loss": 1.0, "group": "g", "n": 10, "exact_match": 0.0}
            for split in ("val", "test"):
                for direction, value in (("forward", fwd), ("backward", 0.05)):
                    rows.append({**point, "population": "inject", "split": split, "direction": direction, "accuracy": value * epoch})
                    rows.append({**point, "population": "base", "split": split, "direction": direction, "accuracy": 0.5})
    path.mkdir()
    conform(pl.DataFrame(rows, infer_schema_length=None)).write_parquet(path / "results.parquet")
    top = f'cache = "{cache}"\n' if cache else ""
    (path / "study.toml").write_text(f"{top}[trial]\nepochs = 60\n{trial}[base]\n{base}")
    return str(path)


def test_bases_are_told_apart_by_base_block_and_settings_by_all_but_the_seed(tmp_path):
    dirs = [
        study(tmp_path / "k3b0", {0: 0.80, 1: 0.82}, "paraphrases = 3\nseed = 0\n"),
        study(tmp_path / "k3b1", {0: 0.70, 1: 0.72}, "paraphrases = 3\nseed = 1\n"),
        study(tmp_path / "k9b0", {0: 0.60, 1: 0.60}, "paraphrases = 9\nseed = 0\n"),
    ]
    bases = base_means(per_trial(dirs))
    assert bases.select("setting", "base_seed", "seeds").rows() == [("paraphrases=3", 0, 2), ("paraphrases=3", 1, 2), ("paraphrases=9", 0, 2)]
    assert bases["best_forward"].to_list() == pytest.approx([0.81, 0.71, 0.60])
    k3 = spread(bases, "setting").row(0, named=True)
    assert (k3["setting"], k3["bases"], k3["seeds"]) == ("paraphrases=3", 2, 4)
    assert k3["best_forward"] == pytest.approx(0.76)
    assert k3["best_forward_between"] == pytest.approx(0.1 / math.sqrt(2))  # std of .81 and .71
    assert k3["best_forward_se"] == pytest.approx(0.05)
    assert k3["best_forward_within"] == pytest.approx(0.02 / math.sqrt(2))  # each base: std of two seeds .02 apart


def test_the_epochs_a_base_trained_come_from_its_cached_report(tmp_path, dataset_dir):
    cache = tmp_path / "cache"
    report = base_dir(KnowledgeData.load(dataset_dir), BaseConfig(seed=1), cache) / "ar" / "report.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"epochs": 5}))
    trained = study(tmp_path / "trained", {0: 0.8}, "seed = 1\n", dataset=str(dataset_dir), cache=cache)
    gone = study(tmp_path / "gone", {0: 0.7}, "seed = 2\n", dataset=str(dataset_dir), cache=cache)
    by_base = dict(base_means(per_trial([trained, gone])).select("base_seed", "base_epochs").rows())
    assert by_base == {1: 5, 2: None}


def test_studies_whose_trials_differ_are_one_error_line_and_exit_2(tmp_path, capsys):
    short = study(tmp_path / "short", {0: 0.8}, "seed = 0\n")
    long = study(tmp_path / "long", {0: 0.8}, "seed = 1\n", trial="lr = 0.01\n")
    assert main([short, long]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "differ in [trial] lr" in err and err.count("\n") == 1


def test_a_directory_without_its_study_file_is_refused(tmp_path, capsys):
    bare = study(tmp_path / "bare", {0: 0.8})
    (tmp_path / "bare" / "study.toml").unlink()
    assert main([bare]) == 2
    assert "has no study.toml" in capsys.readouterr().err


def test_the_summary_prints_each_base_and_each_setting(tmp_path, capsys):
    dirs = [study(tmp_path / f"b{s}", {0: 0.8, 1: 0.7}, f"seed = {s}\n") for s in (0, 1)]
    assert main(dirs) == 0
    out = capsys.readouterr().out
    assert "namedesc tiny ar, k=9 same · all · base seed 1 (base epochs unknown): 0.750 (0.071) / 0.050 (0.000) / 0.500 (0.000), 2 seeds" in out
    assert "namedesc tiny ar, k=9 same · all: 0.750 ± 0.000 (0.000; 0.071)" in out


def test_by_group_adds_each_question_groups_accuracy_at_the_best_point(tmp_path, capsys):
    dirs = [study(tmp_path / "b0", {0: 0.80, 1: 0.60}, "seed = 0\n"), study(tmp_path / "b1", {0: 0.40}, "seed = 1\n")]
    trials = per_trial(dirs, by_group=True)
    assert sorted(trials.select("base_seed", "seed", "g for", "g bac").rows()) == pytest.approx([(0, 0, 0.8, 0.05), (0, 1, 0.6, 0.05), (1, 0, 0.4, 0.05)])
    assert spread(base_means(trials), "setting").row(0, named=True)["g for"] == pytest.approx(0.55)  # mean of bases .70 and .40
    assert "g for" not in per_trial(dirs).columns
    assert main([*dirs, "--by-group"]) == 0
    assert "fwd / bwd / retention / g bac / g for" in capsys.readouterr().out
