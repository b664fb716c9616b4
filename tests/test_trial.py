"""One injection trial end to end, on a micro dataset and micro models (seconds each)."""

from __future__ import annotations

import json

import polars as pl
import pytest
import torch

from maskft.datasets.schema import DataError
from maskft.trainers.base_stage import BaseConfig, BaseStageError, base_dir, ensure_base
from maskft.trainers.evaluation import EvalConfig
from maskft.trainers.models import build_model, save_model
from maskft.trainers.results import RESULT_SCHEMA
from maskft.trainers.trial import TrialConfig, run_trial

torch.set_num_threads(1)

QUICK = dict(epochs=4, eval_points=2, batch_size=8, retention_questions=6, max_questions=16, lr=1e-3)


def test_trial_writes_results_in_the_schema_at_every_evaluation_point(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="masked", model=str(checkpoint), **QUICK)
    summary = run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")
    results = pl.read_parquet(tmp_path / "t" / "results.parquet")
    assert dict(results.schema) == RESULT_SCHEMA
    assert sorted(results["epoch"].unique()) == [0, 2, 4]  # before injection + log-spaced points
    assert set(results["population"]) == {"inject", "base"}  # retention sample beside the inject questions
    assert set(results["direction"]) == {"forward", "backward"}
    assert set(results.filter(pl.col("population") == "inject")["split"]) == {"val", "test"}
    assert results["mask_ratio"].unique().to_list() == ["random"]
    assert summary["steps"] > 0 and not summary["stopped_early"]
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["trial_id"] == config.trial_id


def test_curves_grow_along_training(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="ar", model=str(checkpoint), **QUICK)
    run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")
    points = pl.read_parquet(tmp_path / "t" / "results.parquet").group_by("epoch").agg(
        pl.col("docs_seen").first(), pl.col("tokens_seen").first(), pl.col("step").first()
    ).sort("epoch")
    assert points["docs_seen"].to_list()[0] == 0
    assert points["docs_seen"].is_sorted() and points["docs_seen"][-1] == 4 * 6  # 4 epochs of 6 documents
    assert points["tokens_seen"].is_sorted() and points["step"].is_sorted()


def test_a_user_checkpoint_needs_no_base_stage(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="ar", model=str(checkpoint), **QUICK)
    run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "base").exists()


def test_stopping_early_keeps_what_was_written(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="ar", model=str(checkpoint), **QUICK)
    summary = run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache", should_stop=lambda: True)
    assert summary["stopped_early"] and summary["steps"] == 0
    assert pl.read_parquet(tmp_path / "t" / "results.parquet")["epoch"].unique().to_list() == [0]


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_lr_schedule_holds_or_decays_the_learning_rate_to_zero(tmp_path, dataset_dir, checkpoint, schedule):
    steps = []  # 40 steps of one batch each; the loop reports every 10th
    settings = QUICK | {"epochs": 40, "eval_points": 1, "max_questions": 4, "retention_questions": 0}
    config = TrialConfig(dataset=str(dataset_dir), method="ar", model=str(checkpoint), lr_schedule=schedule, **settings)
    run_trial(config, cache_dir=tmp_path / "cache", on_event=lambda kind, payload: steps.append(payload.lr) if kind == "step" else None)
    assert len(steps) == 4
    if schedule == "constant":
        assert steps == pytest.approx([QUICK["lr"]] * 4)
    else:
        assert steps == sorted(steps, reverse=True) and steps[-1] < 0.05 * QUICK["lr"] < steps[0]


def test_dllm_trial_decodes_with_the_diffusion_sampler(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="dllm", model=str(checkpoint), **QUICK)
    run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")
    config_json = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config_json["method"] == "dllm"
    assert pl.read_parquet(tmp_path / "t" / "predictions.parquet").height > 0


def test_too_many_paraphrases_fail_before_training(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="ar", model=str(checkpoint), paraphrases=5, **QUICK)
    with pytest.raises(DataError, match="5 same-order paraphrases requested"):
        run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "t").exists()


def test_a_tokenizer_larger_than_the_model_is_refused(tmp_path, dataset_dir, checkpoint):
    import shutil

    small = tmp_path / "small"
    shutil.copytree(checkpoint, small)
    save_model(build_model("micro", 50), small)
    config = TrialConfig(dataset=str(dataset_dir), method="ar", model=str(small), **QUICK)
    with pytest.raises(ValueError, match="tokenizer .* has \\d+ tokens but the model only 50 embeddings"):
        run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("method", "sgd", "unknown method 'sgd'"),
        ("mask_ratio", "1.5", "mask ratio must be"),
        ("order", "shuffled", "unknown paraphrase order"),
        ("replay", 1.0, "replay fraction must be in"),
        ("model", "/no/such/checkpoint", "neither a preset"),
        ("dllm_document_format", "raw", "dllm_document_format must be one of chat, plain, got 'raw'"),
        ("lr_schedule", "linear", "lr_schedule must be one of constant, cosine, got 'linear'"),
        ("mask_spans", "runs", "mask_spans must be one of tokens, merged, got 'runs'"),
    ],
)
def test_bad_trial_settings_are_one_line_errors(field, value, message):
    settings = {"method": "masked", field: value}
    with pytest.raises(ValueError, match=message):
        TrialConfig(**settings)


def test_merged_mask_spans_are_for_the_corrupted_prompt_methods_only():
    assert TrialConfig(method="random-token", mask_spans="merged").mask_spans == "merged"
    with pytest.raises(ValueError, match="mask_spans 'merged' applies to masked and random-token only, not 'dllm'"):
        TrialConfig(method="dllm", mask_spans="merged")


def test_ar_methods_take_no_mask_ratio_and_masked_ones_default_to_random():
    with pytest.raises(ValueError, match="takes no mask ratio"):
        TrialConfig(method="ar", mask_ratio="0.5")
    assert TrialConfig(method="dllm").mask_ratio == "random"
    assert TrialConfig(method="ar").mask_ratio is None


def test_trial_ids_made_before_a_setting_existed_stay_valid_at_its_default():
    # studies finished before dllm_document_format existed must resume, not rerun (ids pinned
    # from the code before it)
    assert TrialConfig(method="dllm").trial_id == "dllm-random-k0-same-r0-s0-eadab9"
    assert TrialConfig(method="dllm", dllm_document_format="chat").trial_id != "dllm-random-k0-same-r0-s0-eadab9"
    masked = TrialConfig(method="masked").trial_id
    assert masked == TrialConfig(method="masked", mask_spans="tokens").trial_id != TrialConfig(method="masked", mask_spans="merged").trial_id
    assert TrialConfig(method="dllm", eval=EvalConfig(cfg_scale=0.0)).trial_id == "dllm-random-k0-same-r0-s0-eadab9"
    assert TrialConfig(method="dllm", eval=EvalConfig(cfg_scale=1.0)).trial_id != "dllm-random-k0-same-r0-s0-eadab9"


# ---- base stage ---------------------------------------------------------------------------
MICRO_BASE = BaseConfig(preset="micro", epochs=2, dllm_epochs=1, threshold=0.0, eval_questions=8, batch_size=16, paraphrases=0)


def test_base_stage_is_built_once_and_reused(tmp_path, dataset_dir):
    from maskft.datasets.schema import KnowledgeData

    data = KnowledgeData.load(dataset_dir)
    first = ensure_base(data, MICRO_BASE, "ar", cache_dir=tmp_path)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    again = ensure_base(data, MICRO_BASE, "ar", cache_dir=tmp_path)
    assert again == first and (again / "model.safetensors").stat().st_mtime_ns == stamp
    report = json.loads((first / "report.json").read_text())
    assert report["kind"] == "ar" and 0 <= report["accuracy"] <= 1


def test_dllm_base_starts_from_the_ar_base_and_attends_both_ways(tmp_path, dataset_dir):
    from maskft.datasets.schema import KnowledgeData
    from maskft.trainers.models import is_bidirectional, load_model

    data = KnowledgeData.load(dataset_dir)
    path = ensure_base(data, MICRO_BASE, "dllm", cache_dir=tmp_path)
    assert (base_dir(data, MICRO_BASE, tmp_path) / "ar" / "report.json").exists()  # A2D: the AR base came first
    assert is_bidirectional(load_model(path))


def test_a_base_below_the_threshold_is_refused_but_kept(tmp_path, dataset_dir):
    from dataclasses import replace

    from maskft.datasets.schema import KnowledgeData

    data = KnowledgeData.load(dataset_dir)
    strict = replace(MICRO_BASE, threshold=1.0, epochs=1)
    with pytest.raises(BaseStageError, match="below|< threshold"):
        ensure_base(data, strict, "ar", cache_dir=tmp_path)
    assert (base_dir(data, strict, tmp_path) / "ar" / "report.json").exists()


@pytest.mark.parametrize(("target", "ran"), [(0.0, 1), (1.0, 3)])
def test_the_ar_base_trains_until_base_qa_reaches_the_target_or_the_epoch_limit(tmp_path, dataset_dir, target, ran):
    from dataclasses import replace

    from maskft.datasets.schema import KnowledgeData

    data = KnowledgeData.load(dataset_dir)
    # threshold 1.0: no plateau can end it early (the unreachable case is then refused)
    config = replace(MICRO_BASE, epochs=3, check_every=1, target=target, threshold=target)
    if target < 1:
        ensure_base(data, config, "ar", cache_dir=tmp_path)
    else:
        with pytest.raises(BaseStageError):
            ensure_base(data, config, "ar", cache_dir=tmp_path)
    report = json.loads((base_dir(data, config, tmp_path) / "ar" / "report.json").read_text())
    assert report["epochs"] == ran and [c["epoch"] for c in report["checks"]] == list(range(1, ran + 1))


def test_the_ar_base_also_stops_on_a_plateau_above_the_threshold_but_not_below_it():
    from maskft.trainers.base_stage import base_training_done

    config = BaseConfig(threshold=0.9, target=0.95)
    assert base_training_done([0.5, 0.96], config)  # target
    assert base_training_done([0.93, 0.935], config)  # levelled off above the threshold
    assert not base_training_done([0.91, 0.94], config)  # still gaining
    assert not base_training_done([0.6, 0.6], config)  # levelled off, but not good enough to hand over
    assert not base_training_done([], config)


def test_bad_base_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="dllm_init"):
        BaseConfig(dllm_init="bert")
    with pytest.raises(ValueError, match="threshold"):
        BaseConfig(threshold=1.5)
    with pytest.raises(ValueError, match="target"):
        BaseConfig(target=-0.1)
    with pytest.raises(ValueError, match="check_every"):
        BaseConfig(check_every=0)


def test_replay_mixes_base_documents_and_qa_into_injection(tmp_path, dataset_dir, checkpoint):
    config = TrialConfig(dataset=str(dataset_dir), method="masked", model=str(checkpoint), replay=0.5, **QUICK)
    summary = run_trial(config, out_dir=tmp_path / "t", cache_dir=tmp_path / "cache")
    results = pl.read_parquet(tmp_path / "t" / "results.parquet")
    assert summary["steps"] > 0 and results["replay"].unique().to_list() == [0.5]
    # docs_seen counts inject documents only: 4 epochs x 6 documents, whatever the replay
    assert results["docs_seen"].max() == 4 * 6
