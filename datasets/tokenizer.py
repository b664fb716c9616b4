"""The tokenizer every tiny model uses, and the one loader for any local HF tokenizer.

Tiny models are trained from scratch, so their tokenizer is trained here too: byte-level
BPE (any text encodes and decodes back exactly, case kept) whose small training corpus
leaves mostly whole-word tokens. It carries the special tokens the chat format and the
masking objectives need, and a chat template in the same role as a real instruct
model's, so `ChatFormat.from_tokenizer` treats our tokenizer and Llama/Qwen alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

BOS, EOS, PAD, MASK = "<|bos|>", "<|eos|>", "<|pad|>", "<|mask|>"
USER, ASSISTANT, EOT = "<|user|>", "<|assistant|>", "<|eot|>"
SPECIAL_TOKENS = (BOS, EOS, PAD, MASK, USER, ASSISTANT, EOT)

# <|bos|><|user|>\n{user}<|eot|><|assistant|>\n{assistant}<|eot|>
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}" + USER + "\n{{ message['content'] }}" + EOT +
    "{% elif message['role'] == 'assistant' %}" + ASSISTANT + "\n{{ message['content'] }}" + EOT +
    "{% else %}{{ raise_exception('only user and assistant messages are supported') }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "\n{% endif %}"
)

# The paper's mask choices for tokenizers without a mask token (paper-notes §3.1):
# Llama-3 uses a reserved special token, Qwen the ordinary vocabulary token "[]".
LLAMA_MASK_TOKEN = "<|reserved_special_token_5|>"
QWEN_MASK_TOKEN = "[]"

_BYTE_ALPHABET_SIZE = 256


def build_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `texts` (special tokens get ids 0..6)."""
    smallest = _BYTE_ALPHABET_SIZE + len(SPECIAL_TOKENS)
    if vocab_size < smallest:
        raise ValueError(f"vocab_size must be at least {smallest} (256 bytes + the special tokens), got {vocab_size}")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        mask_token=MASK,
        additional_special_tokens=[USER, ASSISTANT, EOT],
        clean_up_tokenization_spaces=False,  # keep decode lossless
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def save_tokenizer(tok: PreTrainedTokenizerBase, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _progress_bars_off():
        tok.save_pretrained(directory)
    return directory


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerBase:
    """Load our tokenizer or any HF tokenizer saved in a local directory (never the Hub)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"no tokenizer directory at {directory}")
    try:
        with _progress_bars_off():
            return AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{directory} does not hold a readable tokenizer: {first_line}") from None


def mask_token_id(tok: PreTrainedTokenizerBase) -> int:
    """The id that replaces masked tokens: the mask token, else the paper's Llama/Qwen choice."""
    if tok.mask_token_id is not None:
        return int(tok.mask_token_id)
    reserved = tok.get_vocab().get(LLAMA_MASK_TOKEN)
    if reserved is not None:
        return int(reserved)
    ids = tok.encode(QWEN_MASK_TOKEN, add_special_tokens=False)
    if len(ids) == 1 and tok.decode(ids) == QWEN_MASK_TOKEN:  # one real token, not <unk>
        return int(ids[0])
    raise ValueError("tokenizer has no usable mask token")


@contextmanager
def _progress_bars_off():
    """Silence transformers' progress bars for one call, restoring the caller's setting."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
