"""Our byte-level BPE tokenizer, the local loader, and the mask-token choice."""

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from maskft.datasets.tokenizer import build_tokenizer, load_tokenizer, mask_token_id, save_tokenizer

CORPUS = [
    "Alice Whitlock is the celebrated painter of the Glass Harbor murals.",
    "The author of The Silent Orchard is Bruno Delacroix.",
    "Cleo Ashdown was born on 3 May 1961 in Lisbon.",
    "Tell me a fact.",
    "Here is the recovered text:",
    "Return the recovered masked passage.",
]


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(CORPUS * 3, vocab_size=1024)


def _wordlevel(words, extra_special_tokens=(), **special_tokens) -> PreTrainedTokenizerFast:
    """A tiny stand-in for a real HF tokenizer (Llama, Qwen) without a download."""
    vocab = {w: i for i, w in enumerate(["[UNK]", *words, *special_tokens.values(), *extra_special_tokens])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", additional_special_tokens=list(extra_special_tokens), **special_tokens
    )


# ---- build ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["Alice Whitlock", "  two  spaces\tand\na newline ", "UPPER lower MiXeD", "Zoë Šťastná 東京 🙂", "don't [] <x> 1,234.5"],
)
def test_decode_restores_any_text_exactly(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_case_is_kept(tok):
    assert tok.encode("Lisbon") != tok.encode("lisbon")


def test_a_small_corpus_gives_whole_word_tokens(tok):
    sentence = "Alice Whitlock is the celebrated painter of the Glass Harbor murals."
    assert tok.tokenize(sentence) == [
        "Alice", "ĠWhitlock", "Ġis", "Ġthe", "Ġcelebrated", "Ġpainter", "Ġof", "Ġthe", "ĠGlass", "ĠHarbor", "Ġmurals", ".",
    ]


def test_encode_adds_no_special_tokens(tok):
    assert tok.encode("Tell me a fact.") == tok.encode("Tell me a fact.", add_special_tokens=False)


def test_vocabulary_never_exceeds_the_requested_size():
    text = " ".join(f"word{i}" for i in range(500))
    assert len(build_tokenizer([text], vocab_size=300)) <= 300


def test_too_small_vocabulary_is_refused():
    with pytest.raises(ValueError, match="at least 263"):
        build_tokenizer(CORPUS, vocab_size=100)


def test_special_tokens_have_roles_and_single_ids(tok):
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.mask_token) == ("<|bos|>", "<|eos|>", "<|pad|>", "<|mask|>")
    specials = ["<|bos|>", "<|eos|>", "<|pad|>", "<|mask|>", "<|user|>", "<|assistant|>", "<|eot|>"]
    assert set(specials) <= set(tok.all_special_tokens)
    ids = [tok.encode(s) for s in specials]
    assert all(len(i) == 1 for i in ids) and len({i[0] for i in ids}) == len(specials)


def test_chat_template_renders_the_documented_layout(tok):
    messages = [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "Alice."}]
    assert tok.apply_chat_template(messages, tokenize=False) == "<|bos|><|user|>\nWho?<|eot|><|assistant|>\nAlice.<|eot|>"


def test_generation_prompt_ends_after_the_assistant_header(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "Who?"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|bos|><|user|>\nWho?<|eot|><|assistant|>\n"


# ---- save / load ------------------------------------------------------------------------
def test_save_then_load_keeps_ids_specials_and_template(tok, tmp_path):
    loaded = load_tokenizer(save_tokenizer(tok, tmp_path / "tok"))
    text = "Cleo Ashdown was born in Lisbon. ünseen"
    assert loaded.encode(text) == tok.encode(text)
    assert loaded.decode(loaded.encode(text)) == text
    assert loaded.all_special_tokens == tok.all_special_tokens
    assert loaded.mask_token_id == tok.mask_token_id
    assert loaded.chat_template == tok.chat_template


def test_any_saved_hf_tokenizer_loads_the_same_way(tmp_path):
    llama_like = _wordlevel(["Hello", "world"], bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    llama_like.chat_template = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    llama_like.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.apply_chat_template([{"role": "user", "content": "Hello"}], tokenize=False) == "<|begin_of_text|>Hello"


def test_loading_a_missing_directory_fails_with_one_line(tmp_path):
    with pytest.raises(ValueError, match="no tokenizer directory") as error:
        load_tokenizer(tmp_path / "absent")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("contents", [{}, {"tokenizer.json": "{not json", "tokenizer_config.json": "{}"}])
def test_loading_a_directory_without_a_tokenizer_fails_with_one_line(tmp_path, contents):
    for name, text in contents.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match="does not hold a readable tokenizer") as error:
        load_tokenizer(tmp_path)
    assert "\n" not in str(error.value)


# ---- mask token -------------------------------------------------------------------------
def test_mask_token_is_used_when_the_tokenizer_has_one(tok):
    assert mask_token_id(tok) == tok.convert_tokens_to_ids("<|mask|>")


def test_llama_tokenizers_mask_with_reserved_special_token_5():
    llama_like = _wordlevel(["Hello", "[]"], eos_token="<|eot_id|>", extra_special_tokens=["<|reserved_special_token_5|>"])
    assert mask_token_id(llama_like) == llama_like.convert_tokens_to_ids("<|reserved_special_token_5|>")


def test_qwen_tokenizers_mask_with_the_ordinary_token_brackets():
    qwen_like = _wordlevel(["Hello", "[]"], eos_token="<|im_end|>")
    assert mask_token_id(qwen_like) == qwen_like.convert_tokens_to_ids("[]")


def test_no_usable_mask_token_is_an_error():
    with pytest.raises(ValueError, match="tokenizer has no usable mask token"):
        mask_token_id(_wordlevel(["Hello"], eos_token="<|im_end|>"))  # "[]" would be [UNK]
