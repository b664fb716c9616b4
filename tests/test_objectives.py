"""Objectives: exact layouts on hand-made ids, mask-ratio semantics, losses, and learning."""

import math
from types import SimpleNamespace

import pytest
import torch

from maskft.datasets.chat import FACT_PROMPT, IGNORE_INDEX, RECOVER_INSTRUCTION, RECOVER_PREFIX, ChatFormat
from maskft.datasets.tokenizer import build_tokenizer
from maskft.trainers.models import ModelPreset, build_model
from maskft.trainers.objectives import (
    ANSWER_SEPARATOR,
    RECOVER_ANSWER_INSTRUCTION,
    CausalObjective,
    ChatExample,
    DiffusionObjective,
    MaskRatio,
    causal_loss,
    diffusion_loss,
    make_objective,
    merge_corrupted_runs,
    reverse_preserving_entities,
    sample_mask,
    special_token_ids,
)

X = IGNORE_INDEX
PAD, BOS, EOS, MASK, EOT, USER, ASSISTANT, NL = range(8)
VOCAB = 40
DOC = [20, 21, 22]
QA = ChatExample(user=(30, 31), assistant=(32, 33))


class TableTokenizer:
    """Stands in for a tokenizer: the few texts the objectives encode map to fixed ids."""

    added_tokens_decoder = {USER: SimpleNamespace(special=True), ASSISTANT: SimpleNamespace(special=True)}

    table = {
        FACT_PROMPT: [10, 11],
        RECOVER_INSTRUCTION: [NL, 12, 13],
        RECOVER_PREFIX: [14, 15, NL],
        ANSWER_SEPARATOR: [NL],
        RECOVER_ANSWER_INSTRUCTION: [NL, 12, 16],
    }

    def encode(self, text, add_special_tokens=False):
        return list(self.table[text])


FMT = ChatFormat(
    prefix=(BOS, USER, NL), middle=(EOT, ASSISTANT, NL), suffix=(EOT,),
    bos_id=BOS, eos_id=EOS, pad_id=PAD, mask_id=MASK, eot_id=EOT, tokenizer=TableTokenizer(),
)  # fmt: skip


def objective(method, mask_ratio=None, **kwargs):
    return make_objective(method, mask_ratio, FMT, VOCAB, **kwargs)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# ---- layouts -------------------------------------------------------------------------------
def test_ar_plain_layout_is_bos_doc_eos_with_loss_on_doc_and_eos():
    batch = objective("ar", document_format="plain").build_batch([DOC])
    assert batch["input_ids"].tolist() == [[BOS, 20, 21, 22, EOS]]
    assert batch["labels"].tolist() == [[X, 20, 21, 22, EOS]]


def test_ar_chat_layout_answers_tell_me_a_fact_with_the_document():
    batch = objective("ar").build_batch([DOC])
    assert batch["input_ids"].tolist() == [[BOS, USER, NL, 10, 11, EOT, ASSISTANT, NL, 20, 21, 22, EOT]]
    assert batch["labels"].tolist() == [[X] * 8 + [20, 21, 22, EOT]]


def test_ar_on_a_chat_example_is_sft_on_answer_and_end_of_turn():
    batch = objective("ar").build_batch([QA])
    assert batch["input_ids"].tolist() == [[BOS, USER, NL, 30, 31, EOT, ASSISTANT, NL, 32, 33, EOT]]
    assert batch["labels"].tolist() == [[X] * 8 + [32, 33, EOT]]


def test_batches_are_right_padded_with_no_attention_and_no_loss_on_pads():
    batch = objective("ar", document_format="plain").build_batch([DOC, [25]])
    assert batch["input_ids"].tolist() == [[BOS, 20, 21, 22, EOS], [BOS, 25, EOS, PAD, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[X, 20, 21, 22, EOS], [X, 25, EOS, X, X]]


def test_masked_layout_at_t1_is_the_papers_recovery_chat():
    batch = objective("masked", 1.0).build_batch([DOC])
    user = [MASK, MASK, MASK, NL, 12, 13]
    assert batch["input_ids"].tolist() == [[BOS, USER, NL, *user, EOT, ASSISTANT, NL, 14, 15, NL, 20, 21, 22, EOT]]
    assert batch["labels"].tolist() == [[X] * 12 + [X, X, X, 20, 21, 22, EOT]]
    assert batch["mask_ratio"].item() == 1.0


def test_masked_layout_at_t0_shows_the_document_unmasked():
    ids = objective("masked", 0).build_batch([DOC])["input_ids"][0].tolist()
    assert ids[3:9] == [20, 21, 22, NL, 12, 13]


def test_masking_is_one_for_one_and_only_touches_document_tokens():
    doc = list(range(20, 36))
    ids = objective("masked", 0.5).build_batch([doc], generator=seeded())["input_ids"][0].tolist()
    shown = ids[3 : 3 + len(doc)]
    assert ids[:3] == [BOS, USER, NL] and ids[3 + len(doc) :][:3] == [NL, 12, 13]
    assert 0 < shown.count(MASK) < len(doc)
    assert all(s in (d, MASK) for s, d in zip(shown, doc))


def test_random_token_control_replaces_masked_tokens_with_random_non_special_ids():
    doc = [20] * 400
    batch = objective("random-token", 1.0).build_batch([doc], generator=seeded())
    shown = batch["input_ids"][0, 3 : 3 + len(doc)]
    assert set(shown.tolist()) == {NL, *range(8, VOCAB)}  # every ordinary id, no special one
    assert batch["labels"][0, -len(doc) - 1 : -1].tolist() == doc


def test_merged_mask_spans_show_each_run_of_masks_as_one_and_keep_the_target_whole():
    batch = objective("masked", 1.0, mask_spans="merged").build_batch([DOC])
    assert batch["input_ids"].tolist() == [[BOS, USER, NL, MASK, NL, 12, 13, EOT, ASSISTANT, NL, 14, 15, NL, 20, 21, 22, EOT]]
    assert batch["labels"][0].tolist()[-4:] == [20, 21, 22, EOT]


def test_at_t0_merged_and_one_for_one_masking_train_on_identical_batches():
    docs = [list(range(20, 36)), DOC, QA]
    merged = objective("masked", 0, mask_spans="merged").build_batch(docs, generator=seeded())
    tokens = objective("masked", 0).build_batch(docs, generator=seeded())
    assert all(torch.equal(merged[key], tokens[key]) for key in tokens)


def test_merging_cuts_every_corrupted_run_to_its_first_token_and_keeps_the_rest():
    tokens = torch.tensor([MASK, MASK, 21, MASK, 23, 24, MASK, MASK, MASK])
    corrupted = tokens == MASK
    assert merge_corrupted_runs(tokens, corrupted).tolist() == [MASK, 21, MASK, 23, 24, MASK]
    assert merge_corrupted_runs(tokens[2:3], corrupted[2:3]).tolist() == [21]


def test_merged_random_token_control_shows_one_random_token_per_run():
    ids = objective("random-token", 1.0, mask_spans="merged").build_batch([[20] * 50], generator=seeded())["input_ids"][0]
    assert ids[:3].tolist() == [BOS, USER, NL] and ids[4:7].tolist() == [NL, 12, 13]
    assert ids[3].item() in range(8, VOCAB)


def test_mask_spans_are_checked_and_apply_only_to_corrupted_prompts():
    with pytest.raises(ValueError, match="mask_spans must be one of tokens, merged, got 'spans'"):
        objective("masked", mask_spans="spans")
    for method in ("ar", "dllm"):
        with pytest.raises(ValueError, match=f"applies to masked and random-token only, not '{method}'"):
            objective(method, mask_spans="merged")


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(["Ada Lovelace wrote notes.", RECOVER_INSTRUCTION, RECOVER_PREFIX], vocab_size=300)


def test_masked_chat_at_t0_reads_like_the_tokenizers_own_chat_template(tok):
    fmt, doc = ChatFormat.from_tokenizer(tok), "Ada Lovelace wrote notes."
    batch = make_objective("masked", 0, fmt, len(tok)).build_batch([fmt.encode(doc)])
    messages = [{"role": "user", "content": doc + RECOVER_INSTRUCTION}, {"role": "assistant", "content": RECOVER_PREFIX + doc}]
    assert tok.decode(batch["input_ids"][0]) == tok.apply_chat_template(messages, tokenize=False)


def test_special_token_ids_include_the_tokenizers_chat_tokens(tok):
    fmt = ChatFormat.from_tokenizer(tok)
    specials = special_token_ids(fmt)
    assert {tok.convert_tokens_to_ids(t) for t in ("<|user|>", "<|assistant|>", "<|mask|>", "<|pad|>")} <= specials
    assert fmt.encode("Ada")[0] not in specials


def test_masked_sft_loss_falls_exactly_on_the_masked_answer_tokens():
    answer = tuple(range(20, 36))
    ids, labels = objective("masked", 0.5).layout(ChatExample((30, 31), answer), 0.5, seeded(1))
    user = ids[3 : ids.index(ASSISTANT) - 1]
    assert user[:3] == [30, 31, NL] and user[-3:] == [NL, 12, 16]
    shown_answer = user[3:-3]
    masked = [token == MASK for token in shown_answer]
    assistant_labels = labels[-len(answer) - 1 : -1]
    assert 0 < sum(masked) < len(answer)
    assert assistant_labels == [a if m else X for a, m in zip(answer, masked)]
    assert ids[-len(answer) - 1 : -1] == list(answer)
    assert labels[-1] == X and all(label == X for label in labels[: -len(answer) - 1])


def test_dllm_masks_everything_but_bos_and_pads_at_t1():
    batch = objective("dllm", 1.0).build_batch([DOC, [25]])
    assert batch["input_ids"].tolist() == [[BOS, MASK, MASK, MASK, MASK], [BOS, MASK, MASK, PAD, PAD]]
    assert batch["labels"].tolist() == [[X, 20, 21, 22, EOS], [X, 25, EOS, X, X]]
    assert batch["num_maskable"].tolist() == [4, 2]


def test_dllm_never_masks_bos_or_pads_at_any_ratio():
    docs = [list(range(20, 20 + n)) for n in (3, 9, 15)]
    for seed in range(5):
        batch = objective("dllm").build_batch(docs, generator=seeded(seed))
        assert (batch["input_ids"][:, 0] == BOS).all()
        padding = batch["attention_mask"] == 0
        assert (batch["input_ids"][padding] == PAD).all() and (batch["labels"][padding] == X).all()


def test_dllm_on_a_chat_masks_only_answer_and_end_of_turn():
    batch = DiffusionObjective(FMT, MaskRatio(1.0), response_length=0).build_batch([QA])
    assert batch["input_ids"].tolist() == [[BOS, USER, NL, 30, 31, EOT, ASSISTANT, NL, MASK, MASK, MASK]]
    assert batch["labels"].tolist() == [[X] * 8 + [32, 33, EOT]]
    assert batch["num_maskable"].tolist() == [3]


def test_dllm_pads_chat_answers_with_end_of_turn_to_the_response_length():
    # LLaDA SFT: the model learns to end its answer inside a fixed number of mask slots
    batch = objective("dllm", 1.0).build_batch([QA])
    assert batch["labels"].tolist() == [[X] * 8 + [32, 33] + [EOT] * 30]
    assert batch["num_maskable"].tolist() == [32]


def test_dllm_chat_documents_are_fact_answers_with_only_the_answer_maskable():
    # "Tell me a fact." -> document: the prompt stays visible, as QA's question does
    batch = objective("dllm", 1.0, document_format="chat").build_batch([DOC])
    prompt = [BOS, USER, NL, 10, 11, EOT, ASSISTANT, NL]
    assert batch["input_ids"].tolist() == [prompt + [MASK] * 32]
    assert batch["labels"].tolist() == [[X] * 8 + DOC + [EOT] * 29]


def test_dllm_documents_stay_plain_text_by_default():
    assert objective("dllm", 1.0).build_batch([DOC])["labels"].tolist() == objective(
        "dllm", 1.0, document_format="plain"
    ).build_batch([DOC])["labels"].tolist()


def test_dllm_rejects_an_unknown_document_format():
    with pytest.raises(ValueError, match="document format must be 'chat' or 'plain', got 'raw'"):
        objective("dllm", document_format="raw")


# ---- mask ratio -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["1.5", 1.5, -0.1, "often", None, float("nan"), True])
def test_bad_mask_ratios_are_rejected_in_one_line(bad):
    with pytest.raises(ValueError, match=r"^mask ratio must be 'random', 'schedule' or a number in \[0, 1\], got '.*'$"):
        MaskRatio(bad)


def test_mask_ratio_error_quotes_the_given_value():
    with pytest.raises(ValueError) as error:
        objective("masked", "1.5")
    assert str(error.value) == "mask ratio must be 'random', 'schedule' or a number in [0, 1], got '1.5'"


def test_random_mask_ratio_draws_vary_within_005_095():
    generator = seeded()
    draws = [MaskRatio("random").sample(0.0, generator) for _ in range(500)]
    assert 0.05 <= min(draws) < 0.1 and 0.9 < max(draws) <= 0.95


def test_schedule_rises_linearly_from_005_to_095():
    ratio = MaskRatio("schedule")
    values = [ratio.sample(p) for p in (0.0, 0.25, 0.5, 1.0)]
    assert values == pytest.approx([0.05, 0.275, 0.5, 0.95])
    assert values == sorted(values)


def test_fixed_mask_ratio_parses_numbers_and_strings_alike():
    assert MaskRatio("0.75").sample(0.3) == MaskRatio(0.75).sample(0.9) == 0.75
    assert MaskRatio("0.5").label == "0.5" and MaskRatio("random").label == "random"


def test_sample_mask_respects_t_and_maskable_positions():
    maskable = torch.tensor([[False, True, True, True], [True, True, False, False]])
    assert not sample_mask(maskable, 0.0, seeded()).any()
    assert torch.equal(sample_mask(maskable, 1.0, seeded()), maskable)
    assert sample_mask(torch.ones(20_000, dtype=torch.bool), 0.3, seeded()).float().mean() == pytest.approx(0.3, abs=0.02)


# ---- losses ---------------------------------------------------------------------------------
def test_diffusion_loss_weights_masked_ce_by_one_over_t_per_maskable_token():
    logits = torch.zeros(2, 6, 2)  # uniform over 2 tokens: every masked CE is ln 2
    labels = torch.tensor([[X, 1, 0, X, X, X], [X, X, 1, X, X, X]])
    num_maskable = torch.tensor([4, 5])
    expected = (2 * math.log(2) / 0.5 / 4 + math.log(2) / 0.5 / 5) / 2
    assert diffusion_loss(logits, labels, torch.tensor([0.5, 0.5]), num_maskable).item() == pytest.approx(expected)
    halved_t = diffusion_loss(logits, labels, torch.tensor([0.25, 0.25]), num_maskable).item()
    assert halved_t == pytest.approx(2 * expected)


def test_causal_loss_matches_the_transformers_built_in_loss():
    model = build_model(ModelPreset(32, 2, 4, 64, 64), VOCAB)
    batch = objective("masked", 0.5).build_batch([DOC, [25, 26]], generator=seeded())
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    torch.testing.assert_close(causal_loss(logits, batch["labels"]), reference)


def test_dllm_loss_refuses_a_causal_model():
    model = build_model(ModelPreset(32, 2, 4, 64, 64), VOCAB)
    with pytest.raises(ValueError, match="needs a bidirectional model"):
        objective("dllm").loss(model, objective("dllm").build_batch([DOC]))


# ---- reverse training -----------------------------------------------------------------------
def test_reversal_keeps_entities_whole_and_reverses_the_words():
    text = "Daphne Barrington directed A Journey Through Time in Paris."
    entities = ["Daphne Barrington", "A Journey Through Time"]
    assert reverse_preserving_entities(text, entities) == "Paris. in A Journey Through Time directed Daphne Barrington"


def test_reversal_prefers_the_longest_entity_and_works_without_entities():
    assert reverse_preserving_entities("born in New York City today", ["New York", "New York City"]) == "today New York City in born"
    assert reverse_preserving_entities("one two  three", []) == "three two one"


def test_ar_reverse_trains_on_the_text_and_its_reversal():
    texts = objective("ar-reverse").training_texts("Ada Lovelace wrote notes", ["Ada Lovelace"])
    assert texts == ["Ada Lovelace wrote notes", "notes wrote Ada Lovelace"]
    assert objective("ar").training_texts("Ada Lovelace wrote notes", ["Ada Lovelace"]) == ["Ada Lovelace wrote notes"]


# ---- registry -------------------------------------------------------------------------------
def test_registry_names_methods_and_mask_ratios():
    assert [objective(m).name for m in ("ar", "ar-reverse", "masked", "random-token", "dllm")] == [
        "ar", "ar-reverse", "masked", "random-token", "dllm",
    ]  # fmt: skip
    assert objective("masked").mask_ratio_label == "random" and objective("ar").mask_ratio_label is None
    assert isinstance(objective("ar-reverse"), CausalObjective)


def test_registry_rejects_unknown_methods_and_misplaced_ratios():
    with pytest.raises(ValueError, match="unknown method 'bert'; choose one of ar, masked"):
        objective("bert")
    with pytest.raises(ValueError, match="takes no mask ratio"):
        objective("ar", 0.5)
    with pytest.raises(ValueError, match="nothing to predict"):
        objective("dllm", 0)
    with pytest.raises(ValueError, match="'chat' or 'plain'"):
        objective("ar", document_format="raw")


# ---- learning -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ar", "ar-reverse", "masked", "random-token", "dllm"])
def test_a_few_steps_lower_the_loss_and_update_every_parameter_with_gradient(method):
    model = build_model(ModelPreset(32, 2, 4, 64, 64), VOCAB, bidirectional=method == "dllm", seed=0)
    unit = objective(method, 0.5 if method in ("masked", "random-token", "dllm") else None)
    batch = unit.build_batch([DOC, list(range(23, 30)), QA], generator=seeded())
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = unit.loss(model, batch)
    got_gradient = set()
    for _ in range(8):
        optimizer.zero_grad()
        unit.loss(model, batch).backward()
        got_gradient |= {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        optimizer.step()
    assert unit.loss(model, batch).item() < 0.7 * first.item()
    assert got_gradient == set(before)
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in got_gradient)
