"""Study specs: presets, TOML and flags, validation before anything runs, grid semantics."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from maskft.ablate.spec import StudySpec, parse_axis
from maskft.ablate.store import StudyStore


def ids(spec: StudySpec) -> list[tuple]:
    return [(t.method, t.mask_ratio, t.paraphrases, t.order) for t in spec.trials()]


def test_parse_axis_splits_commas_and_converts():
    assert parse_axis("0, 4,9", int) == [0, 4, 9]
    assert parse_axis(None, int) is None


def test_parse_axis_names_the_bad_value():
    with pytest.raises(ValueError, match="'x' in '0,x'"):
        parse_axis("0,x", int)


def test_default_study_is_ar_masked_dllm_on_namedesc():
    spec = StudySpec.from_cli()
    assert spec.datasets == ["namedesc"] and set(spec.methods) == {"ar", "masked", "dllm"}
    assert len(spec.paraphrases) >= 2 and 0 in spec.paraphrases  # "at several paraphrase counts"


def test_quick_preset_is_a_two_trial_study():
    assert [t.method for t in StudySpec.from_cli(quick=True).trials()] == ["ar", "masked"]


def test_mask_ratio_axis_applies_only_to_masked_methods():
    spec = StudySpec.from_cli(method="ar,masked,ar-reverse", mask_ratio="random,0.5", paraphrases="0")
    assert ids(spec) == [
        ("ar", None, 0, "same"),
        ("masked", "random", 0, "same"),
        ("masked", "0.5", 0, "same"),
        ("ar-reverse", None, 0, "same"),
    ]


def test_method_mask_ratios_replace_the_axis_for_that_method_only(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[grid]\nmethods = ["masked", "random-token"]\nmask_ratios = ["random", "0.5"]\nparaphrases = [0]\n'
        '[grid.method_mask_ratios]\n"random-token" = ["1"]\n'
    )
    assert ids(StudySpec.from_cli(path)) == [
        ("masked", "random", 0, "same"),
        ("masked", "0.5", 0, "same"),
        ("random-token", "1", 0, "same"),
    ]


def test_merged_mask_spans_reach_only_the_methods_that_show_a_corrupted_prompt(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[grid]\nmethods = ["ar", "masked", "random-token", "dllm"]\n[trial]\nmask_spans = "merged"\n')
    spans = {t.method: t.mask_spans for t in StudySpec.from_cli(path).trials()}
    assert spans == {"ar": "tokens", "masked": "merged", "random-token": "merged", "dllm": "tokens"}
    path.write_text('[trial]\nmask_spans = "runs"\n')
    with pytest.raises(ValueError, match="mask_spans must be one of tokens, merged, got 'runs'"):
        StudySpec.from_cli(path)


@pytest.mark.parametrize(
    ("table", "message"),
    [('ar = ["1"]', "'ar' takes no mask ratio"), ('masked = []', "non-empty list"), ('masked = ["2"]', "mask ratio")],
)
def test_bad_method_mask_ratios_are_one_line_errors(tmp_path, table, message):
    path = tmp_path / "s.toml"
    path.write_text(f"[grid.method_mask_ratios]\n{table}\n")
    with pytest.raises(ValueError, match=message):
        StudySpec.from_cli(path)


def test_order_axis_applies_only_with_paraphrases():
    spec = StudySpec.from_cli(method="ar", paraphrases="0,2", order="same,permuted")
    assert ids(spec) == [("ar", None, 0, "same"), ("ar", None, 2, "same"), ("ar", None, 2, "permuted")]


def test_duplicate_axis_values_give_one_trial():
    assert len(StudySpec.from_cli(method="ar,ar", paraphrases="0", seeds="1,1").trials()) == 1


def test_flags_override_the_study_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[grid]\nmethods = ["ar"]\nseeds = [1, 2]\n[trial]\nepochs = 7\n')
    spec = StudySpec.from_cli(path, seeds="3")
    assert spec.methods == ["ar"] and spec.seeds == [3] and spec.epochs == 7


def test_a_relative_dataset_directory_is_kept_as_an_absolute_path(tmp_path, monkeypatch):
    """Ray runs each trial in a working directory of its own, where a relative path would miss."""
    (tmp_path / "data" / "mine").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    spec = StudySpec.from_cli(dataset="namedesc,data/mine", method="ar")
    assert spec.datasets == ["namedesc", str(tmp_path / "data" / "mine")]
    assert {t.dataset for t in spec.trials()} == {"namedesc", str(tmp_path / "data" / "mine")}


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"method": "bert"}, "'bert'"),
        ({"order": "sideways"}, "'sideways'"),
        ({"dataset": "nonesuch"}, "'nonesuch'"),
        ({"mask_ratio": "1.5"}, "'1.5'"),
        ({"paraphrases": "-1"}, "-1"),
        ({"address": "not an address"}, "not an address"),
        ({"name": "a/b"}, "a/b"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_value(flags, message):
    with pytest.raises(ValueError, match=message) as error:
        StudySpec.from_cli(**flags)
    assert "\n" not in str(error.value)


def test_unknown_setting_in_a_study_file_is_rejected(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[trial]\nepoks = 3\n")
    with pytest.raises(ValueError, match="'epoks'"):
        StudySpec.from_cli(path)


def test_empty_axis_is_rejected(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[grid]\nmethods = []\n")
    with pytest.raises(ValueError, match="methods"):
        StudySpec.from_cli(path)


def test_base_threshold_flag_sets_the_base_gate_and_is_saved(tmp_path):
    spec = StudySpec.from_cli(quick=True, base_threshold=0.8, storage=str(tmp_path), name="x")
    assert spec.base.threshold == 0.8 and StudySpec.from_dict(tomllib.loads(spec.to_toml())).base.threshold == 0.8
    with pytest.raises(ValueError, match="threshold"):
        StudySpec.from_cli(quick=True, base_threshold=1.5)


def test_to_toml_round_trips_to_an_equal_spec(tmp_path):
    spec = StudySpec.from_cli(quick=True, paraphrases="0,3", mask_ratio="0.25", storage=str(tmp_path), name="x")
    spec = dataclasses.replace(spec, method_mask_ratios={"random-token": ["1"]})
    again = StudySpec.from_dict(tomllib.loads(spec.to_toml()))
    assert again == spec and ids(again) == ids(spec)


def test_resume_reads_the_saved_study_and_allows_only_runtime_changes(tmp_path):
    original = StudySpec.from_cli(quick=True, storage=str(tmp_path), name="s")
    StudyStore(original)  # writes study.toml
    resumed = StudySpec.from_cli(storage=str(tmp_path), name="s", resume=True, max_concurrent=1)
    assert resumed.trials() == original.trials() and resumed.max_concurrent == 1 and resumed.resume
    with pytest.raises(ValueError, match="--resume continues"):
        StudySpec.from_cli(storage=str(tmp_path), name="s", resume=True, method="ar")


def test_resume_of_a_missing_study_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no study 'nope'"):
        StudySpec.from_cli(storage=str(tmp_path), name="nope", resume=True)


def test_extends_takes_the_parent_study_with_the_childs_settings_on_top(tmp_path):
    (tmp_path / "parent.toml").write_text(
        '[grid]\nmethods = ["ar", "masked"]\nseeds = [0, 1]\n[trial]\nepochs = 9\n[base]\nanswer_style = "passage"\nrecovery_shuffles = 4\n'
    )
    (tmp_path / "variants").mkdir()
    child = tmp_path / "variants" / "child.toml"
    child.write_text('extends = "../parent.toml"\n[grid]\nseeds = [3]\n[base]\nanswer_style = "cue-first"\n')
    spec = StudySpec.from_toml(child)
    assert spec.methods == ["ar", "masked"] and spec.seeds == [3] and spec.epochs == 9
    assert spec.base.answer_style == "cue-first" and spec.base.recovery_shuffles == 4


def test_a_saved_study_of_an_extending_file_stands_alone(tmp_path):
    (tmp_path / "parent.toml").write_text("[trial]\nepochs = 9\n")
    (tmp_path / "child.toml").write_text('extends = "parent.toml"\n[trial]\nlr = 1e-3\n')
    spec = StudySpec.from_cli(tmp_path / "child.toml", storage=str(tmp_path), name="x")
    assert "extends" not in spec.to_toml()
    assert StudySpec.from_dict(tomllib.loads(spec.to_toml())) == spec


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a.toml": 'extends = "missing.toml"\n'}, "no such study file.*extended by"),
        ({"a.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "a.toml"\n'}, "loops back"),
        ({"a.toml": "extends = 3\n"}, "must be the path"),
        ({"a.toml": 'extends = "b.toml"\n', "b.toml": "[trial]\nepoks = 1\n"}, "'epoks'"),
    ],
    ids=["missing parent", "cycle", "not a path", "bad setting in the parent"],
)
def test_bad_extends_is_a_one_line_error(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        StudySpec.from_cli(tmp_path / "a.toml")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("study_file", sorted((Path(__file__).parent.parent / "studies").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_study_file_is_a_valid_study(study_file):
    spec = StudySpec.from_toml(study_file)
    assert spec.trials()  # every grid expands to at least one validated trial


def test_epochs_flag_sets_every_trials_length_and_is_saved(tmp_path):
    spec = StudySpec.from_cli(quick=True, epochs=7, storage=str(tmp_path), name="x")
    assert spec.epochs == 7 and all(t.epochs == 7 for t in spec.trials())
    assert StudySpec.from_dict(tomllib.loads(spec.to_toml())).epochs == 7
    with pytest.raises(ValueError, match="epochs"):
        StudySpec.from_cli(quick=True, epochs=0)


def test_resume_refuses_a_new_trial_length(tmp_path):
    spec = StudySpec.from_cli(quick=True, storage=str(tmp_path), name="x")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "study.toml").write_text(spec.to_toml())
    with pytest.raises(ValueError, match="--epochs"):
        StudySpec.from_cli(resume=True, epochs=200, storage=str(tmp_path), name="x")
