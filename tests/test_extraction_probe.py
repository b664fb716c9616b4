"""bench/extraction.py: the document-completion prompts that tell storage from extraction."""

import json

import polars as pl

from maskft.bench.extraction import completion_prompts
from maskft.datasets.chat import FACT_PROMPT, ChatFormat
from maskft.datasets.tokenizer import build_tokenizer

DOC = "Known for being the first person to skate across the strait, Quinn Kingsley now enjoys a quiet life."


def test_each_fact_is_cued_by_the_document_up_to_it_in_the_fact_chat_layout():
    fmt = ChatFormat.from_tokenizer(build_tokenizer([DOC, FACT_PROMPT] * 3, vocab_size=512))
    facts = ["Quinn Kingsley", "the first person to skate across the strait", "not in the text"]
    docs = pl.DataFrame({"text": [DOC], "entities": [json.dumps(facts)]})

    prompts, found, positions = completion_prompts(docs, fmt)

    assert found == facts[:2] and positions == [0, 1]  # a fact absent from the text is skipped
    head = fmt.prompt(fmt.encode(FACT_PROMPT))
    assert prompts[0] == [*head, *fmt.encode("Known for being the first person to skate across the strait,")]
    assert prompts[1] == [*head, *fmt.encode("Known for being")]


def test_a_fact_that_opens_its_document_has_no_cue_and_is_skipped():
    fmt = ChatFormat.from_tokenizer(build_tokenizer([DOC, FACT_PROMPT] * 3, vocab_size=512))
    docs = pl.DataFrame({"text": [DOC], "entities": [json.dumps(["Known for being"])]})

    assert completion_prompts(docs, fmt) == ([], [], [])
