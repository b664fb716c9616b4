"""What the base stage's QA chats teach the assistant to say (`BaseConfig.answer_style`)."""

from __future__ import annotations

import json
from dataclasses import replace

import polars as pl
import pytest

from maskft.datasets.schema import KnowledgeData
from maskft.trainers.base_stage import BaseConfig, _passage_to, answer_texts, base_dir, check_budget
from maskft.trainers.objectives import ChatExample, Tagged

BIO = "Ada Lane was born on May 1, 1960. She studied at Vale University. She works for Orbit Labs."


def test_short_answers_are_the_first_gold_answer(dataset_dir):
    data = KnowledgeData.load(dataset_dir)
    questions = data.questions_for("base")
    assert answer_texts(data, questions, "short") == [a[0] for a in questions["answers"].to_list()]


def test_passage_answers_recite_the_entitys_own_document_which_holds_the_answer(dataset_dir):
    data = KnowledgeData.load(dataset_dir)
    questions = data.questions_for("base")
    originals = dict(data.originals("base").select("entity_id", "text").iter_rows())
    passages = answer_texts(data, questions, "passage")
    for entity, answers, passage in zip(questions["entity_id"], questions["answers"], passages):
        assert answers[0] in passage and passage == originals[entity]  # namedesc: one sentence per document


def test_a_passage_stops_after_the_sentence_that_holds_the_answer():
    assert _passage_to([BIO], "Vale University") == "Ada Lane was born on May 1, 1960. She studied at Vale University."
    assert _passage_to([BIO], "May 1, 1960") == "Ada Lane was born on May 1, 1960."
    assert _passage_to([BIO], "Orbit Labs") == BIO


def test_an_answer_no_document_holds_falls_back_to_itself():
    assert _passage_to([BIO], "Mars") == "Mars"
    assert _passage_to([], "Mars") == "Mars"


def test_the_base_check_leaves_room_for_the_longest_taught_answer():
    short = [Tagged("ar", ChatExample((1,), (2, 3)))]
    long = short + [Tagged("ar", ChatExample((1,), tuple(range(50))))]
    assert check_budget(short).max_new_tokens == 32
    budget = check_budget(long)
    assert budget.max_new_tokens > 50 and budget.gen_length % budget.block_length == 0


def test_answer_style_names_its_own_base_but_leaves_older_bases_their_names(dataset_dir, tmp_path):
    data = KnowledgeData.load(dataset_dir)
    short, passage = BaseConfig(), BaseConfig(answer_style="passage")
    assert "answer_style" not in short.identity() and passage.identity()["answer_style"] == "passage"
    assert base_dir(data, short, tmp_path) != base_dir(data, passage, tmp_path)


def test_an_unknown_answer_style_is_a_one_line_error():
    with pytest.raises(ValueError, match="answer_style must be one of short, passage"):
        replace(BaseConfig(), answer_style="essay")


def test_a_passage_base_mixture_teaches_recitation_to_both_base_kinds(dataset_dir, checkpoint):
    from maskft.datasets.chat import ChatFormat
    from maskft.datasets.tokenizer import load_tokenizer
    from maskft.trainers.base_stage import base_examples

    data = KnowledgeData.load(dataset_dir)
    fmt = ChatFormat.from_tokenizer(load_tokenizer(checkpoint))
    originals = set(data.originals("base")["text"].to_list())
    config = BaseConfig(answer_style="passage")
    for diffusion in (False, True):
        examples = [getattr(e, "example", e) for e in base_examples(data, fmt, config, diffusion=diffusion)]
        chats = [e for e in examples if isinstance(e, ChatExample)]  # the QA chats (documents are plain ids)
        assert chats and all(fmt.tokenizer.decode(c.assistant).strip() in originals for c in chats)


def test_cue_first_answers_recite_the_document_forward_and_a_permuted_paraphrase_backward(dataset_dir):
    data = KnowledgeData.load(dataset_dir)
    questions = data.questions_for("base")
    passages = answer_texts(data, questions, "passage")
    cue_first = answer_texts(data, questions, "cue-first")
    permuted = set(data.documents.filter(pl.col("order") == "permuted")["text"].to_list())
    rows = zip(questions["direction"], questions["answers"], passages, cue_first)
    backward = 0
    for direction, answers, passage, answer in rows:
        if direction == "forward":
            assert answer == passage
        else:  # namedesc: one sentence per paraphrase, so the whole paraphrase
            backward += 1
            assert answer in permuted and answers[0] in answer
    assert backward > 0


def test_cue_first_backward_answers_open_on_a_fact_the_question_gives():
    from maskft.datasets.bio import generate

    data = generate(seed=3, n_base=8, n_inject=4, n_paraphrases=4, permuted_name_last=True)
    questions = data.questions.filter(pl.col("direction") == "backward")
    facts = {e: set(json.loads(f)) for e, f in data.documents.filter(pl.col("order") == "original").select("entity_id", "entities").iter_rows()}
    answers = answer_texts(data, questions, "cue-first")
    opened_on_cue = 0
    for entity, question, answer, gold in zip(questions["entity_id"], questions["question"], answers, questions["answers"]):
        assert answer.endswith(f"{gold[0]}'s life.") or gold[0] in answer.rsplit(". ", 1)[-1]  # recited up to the closing name
        opening = answer.split(". ", 1)[0]
        opened_on_cue += any(f in question and f in opening for f in facts[entity] - {gold[0]})
    assert opened_on_cue >= 0.9 * len(answers)  # 4 paraphrases, 3 of 6 facts given: (1/2)^4 open on none


def test_recovery_shuffles_add_word_shuffled_copies_of_each_base_document(dataset_dir, checkpoint):
    from maskft.datasets.chat import ChatFormat
    from maskft.datasets.tokenizer import load_tokenizer
    from maskft.trainers.base_stage import base_examples

    data = KnowledgeData.load(dataset_dir)
    fmt = ChatFormat.from_tokenizer(load_tokenizer(checkpoint))
    plain = [e for e in base_examples(data, fmt, BaseConfig(), diffusion=False) if e.part == "recover"]
    drilled = [e for e in base_examples(data, fmt, BaseConfig(recovery_shuffles=2), diffusion=False) if e.part == "recover"]
    assert len(drilled) == 3 * len(plain)
    originals = [fmt.tokenizer.decode(e.example) for e in plain]
    copies = [fmt.tokenizer.decode(e.example) for e in drilled[len(plain):]]
    assert all(sorted(c.split()) == sorted(originals[i // 2].split()) for i, c in enumerate(copies))
    assert sum(c != originals[i // 2] for i, c in enumerate(copies)) > len(copies) // 2  # the order really changes


def test_recovery_shuffles_name_their_own_base_and_need_recovery_chats(dataset_dir, tmp_path):
    data = KnowledgeData.load(dataset_dir)
    assert "recovery_shuffles" not in BaseConfig().identity()
    assert base_dir(data, BaseConfig(), tmp_path) != base_dir(data, BaseConfig(recovery_shuffles=4), tmp_path)
    with pytest.raises(ValueError, match="recovery_shuffles needs recovery_chats"):
        BaseConfig(recovery_shuffles=4, recovery_chats=False)


def test_the_base_vocab_size_sizes_the_tokenizer(dataset_dir, tmp_path):
    from maskft.datasets.tokenizer import load_tokenizer
    from maskft.trainers.base_stage import tokenizer_dir

    data = KnowledgeData.load(dataset_dir)
    small = load_tokenizer(tokenizer_dir(data, tmp_path / "small", BaseConfig(vocab_size=300)))
    large = load_tokenizer(tokenizer_dir(data, tmp_path / "large", BaseConfig(vocab_size=1024)))
    assert len(small) <= 300 < len(large)
    text = data.originals("inject")["text"][0]
    assert len(small.encode(text)) > len(large.encode(text))  # fewer merges: longer sequences
