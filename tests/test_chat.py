"""The chat format, read off a tokenizer's chat template: ours and a Llama-3-style one."""

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from maskft.datasets.chat import IGNORE_INDEX, RECOVER_PREFIX, ChatFormat
from maskft.datasets.tokenizer import build_tokenizer

CORPUS = ["Who painted the Glass Harbor murals?", "Alice Whitlock painted them.", "Tell me a fact.", "Here is the recovered text:"]

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(CORPUS * 3, vocab_size=512)


@pytest.fixture(scope="module")
def fmt(tok):
    return ChatFormat.from_tokenizer(tok)


def _llama3_like() -> PreTrainedTokenizerFast:
    """Llama-3's byte-level BPE, special tokens and template in miniature, without a download."""
    specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|reserved_special_token_5|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    backend.train_from_iterator(["user assistant", "Who painted it? Alice did."], trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        additional_special_tokens=specials[1:3] + specials[4:],
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = LLAMA3_TEMPLATE
    return tok


# ---- our tokenizer ----------------------------------------------------------------------
def test_runs_decode_to_the_documented_headers(tok, fmt):
    assert tok.decode(fmt.prefix) == "<|bos|><|user|>\n"
    assert tok.decode(fmt.middle) == "<|eot|><|assistant|>\n"
    assert tok.decode(fmt.suffix) == "<|eot|>"


def test_special_ids_come_from_the_tokenizer(tok, fmt):
    ids = tok.convert_tokens_to_ids
    assert (fmt.bos_id, fmt.eos_id, fmt.pad_id, fmt.mask_id, fmt.eot_id) == (
        ids("<|bos|>"), ids("<|eos|>"), ids("<|pad|>"), ids("<|mask|>"), ids("<|eot|>"),
    )


def test_prompt_equals_the_template_generation_prompt(tok, fmt):
    question = "Who painted the Glass Harbor murals?"
    messages = [{"role": "user", "content": question}]
    expected = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
    assert fmt.prompt(fmt.encode(question)) == expected


def test_chat_equals_the_template_rendering(tok, fmt):
    question, answer = "Who painted the Glass Harbor murals?", "Alice Whitlock painted them."
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    input_ids, _ = fmt.chat(fmt.encode(question), fmt.encode(answer))
    assert input_ids == tok.apply_chat_template(messages, tokenize=True, return_dict=False)


def test_labels_cover_exactly_the_assistant_ids_and_end_of_turn(fmt):
    user, answer = fmt.encode("Who?"), fmt.encode("Alice Whitlock")
    input_ids, labels = fmt.chat(user, answer)
    assert len(labels) == len(input_ids)
    assert [t for t in labels if t != IGNORE_INDEX] == [*answer, fmt.eot_id]
    start = len(fmt.prompt(user))
    assert labels[:start] == [IGNORE_INDEX] * start and labels[start:] == input_ids[start:]


def test_loss_mask_drops_assistant_positions_from_the_labels(fmt):
    answer = fmt.encode("Alice Whitlock")
    _, labels = fmt.chat(fmt.encode("Who?"), answer, loss_mask=[False] + [True] * (len(answer) - 1))
    assert [t for t in labels if t != IGNORE_INDEX] == [*answer[1:], fmt.eot_id]


def test_loss_mask_must_match_the_assistant_length(fmt):
    with pytest.raises(ValueError, match="loss_mask has 1 entries"):
        fmt.chat([1], [2, 3], loss_mask=[True])


def test_recovery_chat_is_the_papers_masked_layout(tok, fmt):
    document = fmt.encode("Alice Whitlock painted them.")
    masked = [fmt.mask_id if i % 2 else t for i, t in enumerate(document)]
    input_ids, labels = fmt.recovery_chat(masked, document)
    assert tok.decode(input_ids) == (
        "<|bos|><|user|>\n" + "Alice<|mask|> painted<|mask|>." + "\nReturn the recovered masked passage.<|eot|>"
        "<|assistant|>\n" + RECOVER_PREFIX + "Alice Whitlock painted them.<|eot|>"
    )
    assert [t for t in labels if t != IGNORE_INDEX] == [*document, fmt.eot_id]  # not the recover prefix


def test_recovery_chat_never_shows_more_tokens_than_the_document(fmt):
    document = fmt.encode("Alice Whitlock")
    with pytest.raises(ValueError, match="masking never adds tokens"):
        fmt.recovery_chat([fmt.mask_id] * (len(document) + 1), document)
    input_ids, labels = fmt.recovery_chat([fmt.mask_id], document)  # a merged run of masks
    assert [t for t in labels if t != IGNORE_INDEX] == [*document, fmt.eot_id]


def test_fact_chat_asks_for_a_fact(tok, fmt):
    input_ids, labels = fmt.fact_chat(fmt.encode("Alice Whitlock painted them."))
    assert tok.decode(input_ids) == "<|bos|><|user|>\nTell me a fact.<|eot|><|assistant|>\nAlice Whitlock painted them.<|eot|>"
    assert tok.decode([t for t in labels if t != IGNORE_INDEX]) == "Alice Whitlock painted them.<|eot|>"


def test_decode_stops_at_end_of_turn_and_drops_specials(fmt):
    generated = [*fmt.encode("Alice Whitlock"), fmt.mask_id, *fmt.encode(" painted"), fmt.eot_id, *fmt.encode(" junk")]
    assert fmt.decode(generated) == "Alice Whitlock painted"


# ---- other tokenizers -------------------------------------------------------------------
def test_llama3_style_template_gives_llama3_headers():
    tok = _llama3_like()
    fmt = ChatFormat.from_tokenizer(tok)
    assert tok.decode(fmt.prefix) == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    assert tok.decode(fmt.middle) == "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    assert fmt.suffix == (fmt.eot_id,) and fmt.eot_id == tok.convert_tokens_to_ids("<|eot_id|>")
    assert fmt.mask_id == tok.convert_tokens_to_ids("<|reserved_special_token_5|>")
    assert fmt.pad_id == fmt.eos_id  # Llama has no pad token


def test_llama3_style_prompt_equals_the_template_generation_prompt():
    tok = _llama3_like()
    fmt = ChatFormat.from_tokenizer(tok)
    messages = [{"role": "user", "content": "Who painted it?"}]
    expected = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
    assert fmt.prompt(fmt.encode("Who painted it?")) == expected


def test_a_tokenizer_without_chat_template_is_refused():
    tok = _llama3_like()
    tok.chat_template = None
    with pytest.raises(ValueError, match="has no chat template"):
        ChatFormat.from_tokenizer(tok)


def test_a_template_that_drops_the_content_is_refused():
    tok = _llama3_like()
    tok.chat_template = "{% for message in messages %}{{ message['role'] }}<|eot_id|>{% endfor %}"
    with pytest.raises(ValueError, match="does not render message content verbatim"):
        ChatFormat.from_tokenizer(tok)


def test_a_template_that_rejects_the_turn_is_refused_in_one_line():
    tok = _llama3_like()
    tok.chat_template = "{{ raise_exception('a system message is required') }}"
    with pytest.raises(ValueError, match="cannot render a user/assistant turn: a system message is required"):
        ChatFormat.from_tokenizer(tok)
