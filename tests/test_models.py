"""Model presets, checkpoint loading and — above all — that the dLLM really attends both ways."""

import json

import pytest
import torch

from maskft.trainers.models import (
    PRESETS,
    ModelPreset,
    build_model,
    count_parameters,
    is_bidirectional,
    load_model,
    make_bidirectional,
    make_causal,
    save_model,
)

MICRO = ModelPreset(hidden=32, layers=2, heads=4, intermediate=64, max_positions=64)
VOCAB = 40


def later_token_changes_earlier_logits(model, attention_mask=None) -> bool:
    """Perturb position 6 of an 8-token input; does position 2's output move?"""
    ids = torch.randint(5, VOCAB, (2, 8), generator=torch.Generator().manual_seed(0))
    perturbed = ids.clone()
    perturbed[:, 6] = (perturbed[:, 6] + 1 - 5) % (VOCAB - 5) + 5
    model.eval()
    with torch.no_grad():
        before = model(ids, attention_mask=attention_mask).logits
        after = model(perturbed, attention_mask=attention_mask).logits
    return bool((before[:, 2] - after[:, 2]).abs().max() > 1e-6)


def padded_mask() -> torch.Tensor:
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 7] = 0  # right padding on the second row; position 6 stays a real token
    return mask


@pytest.mark.parametrize("attention_mask", [None, padded_mask()], ids=["no-mask", "padded"])
def test_fresh_dllm_attends_to_later_tokens_and_ar_does_not(attention_mask):
    assert later_token_changes_earlier_logits(build_model(MICRO, VOCAB, bidirectional=True), attention_mask)
    assert not later_token_changes_earlier_logits(build_model(MICRO, VOCAB), attention_mask)


@pytest.mark.parametrize("attention_mask", [None, padded_mask()], ids=["no-mask", "padded"])
def test_reloaded_dllm_stays_bidirectional_and_ar_stays_causal(tmp_path, attention_mask):
    save_model(build_model(MICRO, VOCAB, bidirectional=True), tmp_path / "dllm")
    save_model(build_model(MICRO, VOCAB), tmp_path / "ar")
    dllm, ar = load_model(tmp_path / "dllm"), load_model(tmp_path / "ar")
    assert is_bidirectional(dllm) and not is_bidirectional(ar)
    assert later_token_changes_earlier_logits(dllm, attention_mask)
    assert not later_token_changes_earlier_logits(ar, attention_mask)


def test_eager_attention_is_bidirectional_too():
    model = build_model(MICRO, VOCAB, bidirectional=True)
    model.set_attn_implementation("eager")
    assert later_token_changes_earlier_logits(model, padded_mask())


def test_pads_do_not_leak_into_real_positions_of_the_dllm():
    model = build_model(MICRO, VOCAB, bidirectional=True).eval()
    ids = torch.tensor([[1, 7, 8, 9, 0, 0]])
    other_pads = torch.tensor([[1, 7, 8, 9, 30, 31]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        a = model(ids, attention_mask=mask).logits[:, :4]
        b = model(other_pads, attention_mask=mask).logits[:, :4]
    torch.testing.assert_close(a, b)


def test_bidirectional_switch_keeps_weights_and_is_saved(tmp_path):
    ar = build_model(MICRO, VOCAB, seed=3)
    dllm = build_model(MICRO, VOCAB, seed=3, bidirectional=True)
    for (name, p), q in zip(ar.named_parameters(), dllm.parameters()):
        assert torch.equal(p, q), name
    dllm.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["is_causal"] is False


def test_make_causal_and_make_bidirectional_round_trip():
    model = build_model(MICRO, VOCAB)
    assert is_bidirectional(make_bidirectional(model))
    assert later_token_changes_earlier_logits(model)
    assert not is_bidirectional(make_causal(model))
    assert not later_token_changes_earlier_logits(model)


def test_load_model_can_switch_attention_on_load(tmp_path):
    build_model(MICRO, VOCAB).save_pretrained(tmp_path)
    assert is_bidirectional(load_model(tmp_path, bidirectional=True))
    assert not is_bidirectional(load_model(tmp_path, bidirectional=False))


def test_load_model_restores_the_saved_weights(tmp_path):
    model = build_model(MICRO, VOCAB, seed=1, bos_id=1, eos_id=2, pad_id=0)
    model.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    assert loaded.config.pad_token_id == 0 and loaded.config.vocab_size == VOCAB
    for (name, p), q in zip(model.named_parameters(), loaded.parameters()):
        assert torch.equal(p, q), name


def test_load_model_rejects_a_directory_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="is not a model checkpoint directory"):
        load_model(tmp_path)


def test_load_model_turns_a_broken_checkpoint_into_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot load model checkpoint") as error:
        load_model(tmp_path)
    assert "\n" not in str(error.value)


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = build_model(MICRO, VOCAB, seed=0), build_model(MICRO, VOCAB, seed=0), build_model(MICRO, VOCAB, seed=1)
    assert torch.equal(a.lm_head.weight, b.lm_head.weight)
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)


def test_build_model_does_not_disturb_the_global_rng():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    build_model(MICRO, VOCAB)
    assert torch.equal(torch.rand(3), expected)


def test_presets_have_the_documented_sizes():
    tiny = build_model("tiny", 330)
    assert (tiny.config.hidden_size, tiny.config.num_hidden_layers, tiny.config.num_attention_heads) == (256, 4, 4)
    assert tiny.config.max_position_embeddings == 512 and tiny.config._attn_implementation == "sdpa"
    assert 3_000_000 < count_parameters(tiny) < 4_500_000
    assert PRESETS["tiny"].hidden < PRESETS["small"].hidden < PRESETS["medium"].hidden
    assert PRESETS["tiny"].layers < PRESETS["small"].layers < PRESETS["medium"].layers


def test_count_parameters_can_skip_frozen_ones():
    model = build_model(MICRO, VOCAB)
    model.lm_head.weight.requires_grad_(False)
    assert count_parameters(model) - count_parameters(model, trainable_only=True) == VOCAB * MICRO.hidden


def test_bad_presets_are_rejected_in_one_line():
    with pytest.raises(ValueError, match="unknown model preset 'huge'"):
        build_model("huge", VOCAB)
    with pytest.raises(ValueError, match="not divisible"):
        ModelPreset(hidden=30, layers=1, heads=4, intermediate=8)
