"""The one-turn chat layout every method trains and evaluates with, read off any tokenizer.

Objectives work on token ids (masked fine-tuning replaces user-turn tokens one-for-one),
so the chat format is kept as three fixed id runs around the user and assistant content:

    prefix + user + middle + assistant + suffix

They are found by rendering the tokenizer's own chat template around sentinel strings and
splitting there, so our tiny tokenizer and a real Llama/Qwen tokenizer go through the
same code. Content is tokenized on its own (as the paper's code builds Llama prompts by
hand), which equals `apply_chat_template` whenever the template's headers end on a
pre-tokenizer boundary — true for our template and for Llama-3's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from jinja2 import TemplateError
from transformers import PreTrainedTokenizerBase

from maskft.datasets.tokenizer import mask_token_id

FACT_PROMPT = "Tell me a fact."
# The paper's masked fine-tuning layout (paper-notes §3.1): user = masked document +
# RECOVER_INSTRUCTION; assistant = RECOVER_PREFIX + original document (loss on the latter).
RECOVER_INSTRUCTION = "\nReturn the recovered masked passage."
RECOVER_PREFIX = "Here is the recovered text:\n\n"

IGNORE_INDEX = -100  # label of positions without loss (the PyTorch / HF convention)

_USER_SENTINEL = "MASKFTUSERCONTENTSENTINEL"
_ASSISTANT_SENTINEL = "MASKFTASSISTANTCONTENTSENTINEL"


@dataclass(frozen=True)
class ChatFormat:
    """Token runs of a one-turn user/assistant chat, and the ids objectives need.

    `eot_id` ends an assistant turn (the generation stop token); `bos_id` and `pad_id`
    fall back to `eos_id` for tokenizers without them (e.g. Qwen). The tokenizer is
    kept (outside equality) so `encode`/`decode` use exactly the one the runs came from.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    bos_id: int
    eos_id: int
    pad_id: int
    mask_id: int
    eot_id: int
    tokenizer: PreTrainedTokenizerBase = field(repr=False, compare=False)

    @classmethod
    def from_tokenizer(cls, tok: PreTrainedTokenizerBase) -> "ChatFormat":
        name = getattr(tok, "name_or_path", "") or type(tok).__name__
        if not getattr(tok, "chat_template", None):
            raise ValueError(f"tokenizer {name} has no chat template")
        if tok.eos_token_id is None:
            raise ValueError(f"tokenizer {name} has no end-of-sequence token")
        messages = [{"role": "user", "content": _USER_SENTINEL}, {"role": "assistant", "content": _ASSISTANT_SENTINEL}]
        try:
            rendered = tok.apply_chat_template(messages, tokenize=False)
        except TemplateError as e:
            raise ValueError(f"chat template of {name} cannot render a user/assistant turn: {e}") from None
        if (
            rendered.count(_USER_SENTINEL) != 1
            or rendered.count(_ASSISTANT_SENTINEL) != 1
            or rendered.index(_USER_SENTINEL) > rendered.index(_ASSISTANT_SENTINEL)
        ):
            raise ValueError(f"chat template of {name} does not render message content verbatim")
        prefix_text, rest = rendered.split(_USER_SENTINEL)
        middle_text, suffix_text = rest.split(_ASSISTANT_SENTINEL)
        prefix, middle, suffix = (
            tuple(tok.encode(text, add_special_tokens=False)) for text in (prefix_text, middle_text, suffix_text)
        )
        if not suffix:
            raise ValueError(f"chat template of {name} does not close the assistant turn")
        eos_id = int(tok.eos_token_id)
        return cls(
            prefix=prefix,
            middle=middle,
            suffix=suffix,
            bos_id=eos_id if tok.bos_token_id is None else int(tok.bos_token_id),
            eos_id=eos_id,
            pad_id=eos_id if tok.pad_token_id is None else int(tok.pad_token_id),
            mask_id=mask_token_id(tok),
            eot_id=suffix[0],
            tokenizer=tok,
        )

    # ---- text <-> ids ------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Plain-text ids, no special tokens added."""
        return self.tokenizer.encode(text, add_special_tokens=False)

    @property
    def stop_ids(self) -> list[int]:
        """The ids that end a generated answer: end of turn and end of sequence."""
        return sorted({self.eot_id, self.eos_id})

    def decode(self, ids: Sequence[int]) -> str:
        """Generated ids to text: cut at the first end-of-turn/end-of-sequence, specials dropped."""
        ids = list(ids)
        stops = [i for i, t in enumerate(ids) if t in (self.eot_id, self.eos_id)]
        if stops:
            ids = ids[: stops[0]]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # ---- layouts -----------------------------------------------------------------------
    def prompt(self, user_ids: Sequence[int]) -> list[int]:
        """A user turn followed by the assistant header: ready for generation."""
        return [*self.prefix, *user_ids, *self.middle]

    def chat(
        self, user_ids: Sequence[int], assistant_ids: Sequence[int], loss_mask: Sequence[bool] | None = None
    ) -> tuple[list[int], list[int]]:
        """(input_ids, labels) of a full turn; loss on the assistant ids (where `loss_mask`) and `suffix`."""
        if loss_mask is None:
            loss_mask = [True] * len(assistant_ids)
        elif len(loss_mask) != len(assistant_ids):
            raise ValueError(f"loss_mask has {len(loss_mask)} entries for {len(assistant_ids)} assistant ids")
        prompt = self.prompt(user_ids)
        input_ids = [*prompt, *assistant_ids, *self.suffix]
        labels = (
            [IGNORE_INDEX] * len(prompt)
            + [t if keep else IGNORE_INDEX for t, keep in zip(assistant_ids, loss_mask)]
            + list(self.suffix)
        )
        return input_ids, labels

    def fact_chat(self, document_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """The AR chat variant: "Tell me a fact." -> document, loss on the document."""
        return self.chat(self._fact_prompt_ids, document_ids)

    def recovery_chat(self, masked_ids: Sequence[int], document_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """Masked fine-tuning: masked document + instruction -> RECOVER_PREFIX + document.

        Loss covers the original document and the end of turn, not RECOVER_PREFIX. The masked
        copy is as long as the document (the paper's one-for-one masking) or shorter (runs of
        masks merged), never longer.
        """
        if len(masked_ids) > len(document_ids):
            raise ValueError(
                f"masked document has {len(masked_ids)} tokens, original {len(document_ids)}: masking never adds tokens"
            )
        prefix = self._recover_prefix_ids
        loss_mask = [False] * len(prefix) + [True] * len(document_ids)
        return self.chat([*masked_ids, *self._instruction_ids], [*prefix, *document_ids], loss_mask)

    @cached_property
    def _fact_prompt_ids(self) -> list[int]:
        return self.encode(FACT_PROMPT)

    @cached_property
    def _instruction_ids(self) -> list[int]:
        return self.encode(RECOVER_INSTRUCTION)

    @cached_property
    def _recover_prefix_ids(self) -> list[int]:
        return self.encode(RECOVER_PREFIX)
