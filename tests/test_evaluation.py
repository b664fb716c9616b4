"""Evaluation asks every question in batches, scores with the paper's metric, aggregates per group."""

import polars as pl
import pytest
import torch

from maskft.datasets.chat import ChatFormat
from maskft.datasets.tokenizer import build_tokenizer
from maskft.trainers.evaluation import EvalConfig, aggregate, evaluate
from maskft.trainers.models import ModelPreset, build_model

CORPUS = ["Where was Ada Vell born?", "Ada Vell was born in Paris.", "Who was born in Rome?", "Bo Kent was born in Rome."]
SPOKEN = "Paris"  # the one answer the models below ever give


@pytest.fixture(scope="module")
def fmt() -> ChatFormat:
    return ChatFormat.from_tokenizer(build_tokenizer(CORPUS, vocab_size=300))


@pytest.fixture
def questions() -> pl.DataFrame:
    """Two questions answered by SPOKEN, two not; different lengths, two groups and splits."""
    return pl.DataFrame(
        {
            "question_id": ["q1", "q2", "q3", "q4"],
            "population": ["inject"] * 4,
            "direction": ["forward", "backward", "forward", "backward"],
            "group": ["N2D", "D2N", "N2D", "D2N"],
            "split": ["test", "test", "val", "val"],
            "question": ["Where was Ada Vell born?", "Who was born in Paris?", "Where was Bo Kent born?", "Who?"],
            "answers": [["Paris"], ["the city of Paris", "Paris"], ["Rome"], ["Bo Kent"]],
        }
    )


def spelling_ar_model(fmt: ChatFormat) -> torch.nn.Module:
    """A real one-layer Llama turned bigram lookup: after the assistant header it says SPOKEN<eot>.

    Attention and MLP weights are zero, so each logit row depends on its input token only;
    the embeddings put each token of the chain on its own axis and lm_head maps it to the next.
    """
    chain = [fmt.middle[-1], *fmt.encode(SPOKEN), fmt.eot_id]
    model = build_model(ModelPreset(hidden=len(chain), layers=1, heads=1, intermediate=4), len(fmt.tokenizer))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.fill_(1.0 if name.endswith("norm.weight") else 0.0)
        for axis, (token, successor) in enumerate(zip(chain, chain[1:])):
            model.model.embed_tokens.weight[token, axis] = 1.0
            model.lm_head.weight[successor, axis] = 10.0
    return model.eval()


class SpellingDLLM(torch.nn.Module):
    """A dLLM stub: its generated slots read SPOKEN<eot><eot>..., the leftmost slot surest."""

    config = type("Config", (), {"is_causal": False, "model_type": "stub"})()

    def __init__(self, fmt: ChatFormat, gen_length: int):
        super().__init__()
        script = [*fmt.encode(SPOKEN), *[fmt.eot_id] * gen_length][:gen_length]
        self.logits = torch.zeros(gen_length, len(fmt.tokenizer))
        for slot, token in enumerate(script):
            self.logits[slot, token] = 10.0 - 0.1 * slot
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the stub a device

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=0):
        batch, length = input_ids.shape
        full = torch.cat([torch.zeros(length - len(self.logits), self.logits.shape[1]), self.logits])
        return type("Output", (), {"logits": full[logits_to_keep].expand(batch, -1, -1)})()


def record_batch_sizes(model: torch.nn.Module) -> list[int]:
    sizes: list[int] = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: sizes.append(len(kwargs.get("input_ids", args[0] if args else None))), with_kwargs=True
    )
    return sizes


@pytest.mark.parametrize("diffusion", [False, True], ids=["ar-greedy", "dllm-sampler"])
def test_right_answers_score_one_and_wrong_answers_zero(fmt, questions, diffusion):
    config = EvalConfig(max_new_tokens=8, gen_length=8, block_length=4)
    model = SpellingDLLM(fmt, config.gen_length) if diffusion else spelling_ar_model(fmt)
    scored = evaluate(model, fmt, questions, diffusion=diffusion, config=config)
    assert scored["prediction"].to_list() == [SPOKEN] * 4
    assert scored["accuracy"].to_list() == [1.0, 1.0, 0.0, 0.0]
    assert scored["exact_match"].to_list() == [1.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("diffusion", [False, True], ids=["ar-greedy", "dllm-sampler"])
def test_all_questions_go_to_the_model_in_one_batch(fmt, questions, diffusion):
    config = EvalConfig(max_new_tokens=8, gen_length=8, block_length=4)
    model = SpellingDLLM(fmt, config.gen_length) if diffusion else spelling_ar_model(fmt)
    sizes = record_batch_sizes(model)
    evaluate(model, fmt, questions, diffusion=diffusion, config=config)
    assert sizes and set(sizes) == {questions.height}
    assert len(sizes) <= 4  # answers end in the first block / after 3 tokens: no wasted calls


def test_small_batch_size_splits_the_questions(fmt, questions):
    model = spelling_ar_model(fmt)
    sizes = record_batch_sizes(model)
    scored = evaluate(model, fmt, questions, diffusion=False, config=EvalConfig(max_new_tokens=8, batch_size=3))
    assert sorted(set(sizes)) == [1, 3]
    assert scored["accuracy"].to_list() == [1.0, 1.0, 0.0, 0.0]


def test_rows_keep_the_question_fields(fmt, questions):
    scored = evaluate(spelling_ar_model(fmt), fmt, questions, diffusion=False, config=EvalConfig(max_new_tokens=8))
    assert scored.columns == [*questions.columns, "prediction", "accuracy", "exact_match"]
    assert scored.drop("prediction", "accuracy", "exact_match").equals(questions)


def test_evaluation_leaves_a_training_model_in_training_mode(fmt, questions):
    model = spelling_ar_model(fmt).train()
    evaluate(model, fmt, questions, diffusion=False, config=EvalConfig(max_new_tokens=4))
    assert model.training


def test_questions_without_required_columns_are_rejected(fmt, questions):
    with pytest.raises(ValueError, match="missing column\\(s\\): split"):
        evaluate(spelling_ar_model(fmt), fmt, questions.drop("split"), diffusion=False)


def test_aggregate_means_per_population_split_direction_and_group():
    rows = pl.DataFrame(
        {
            "population": ["inject", "inject", "inject", "base"],
            "split": ["test", "test", "test", "val"],
            "direction": ["forward", "forward", "backward", "forward"],
            "group": ["N2D", "N2D", "D2N", "N2D"],
            "accuracy": [1.0, 0.5, 0.25, 1.0],
            "exact_match": [1.0, 0.0, 0.0, 1.0],
        }
    )
    assert aggregate(rows).rows() == [
        ("base", "val", "forward", "N2D", 1, 1.0, 1.0),
        ("inject", "test", "backward", "D2N", 1, 0.25, 0.0),
        ("inject", "test", "forward", "N2D", 2, 0.75, 0.5),
    ]
    assert aggregate(rows).columns == ["population", "split", "direction", "group", "n", "accuracy", "exact_match"]


def test_default_config_is_the_papers_sampler_with_short_answers():
    config = EvalConfig()
    assert (config.block_length, config.steps) == (4, None)
    assert config.cfg_scale == 0.0  # LLaDA's evaluation: no guidance
    assert config.max_new_tokens == config.gen_length == 32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gen_length": 30}, "not a multiple of block_length"),
        ({"steps": 64}, "exceed gen_length"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"max_new_tokens": 0}, "max_new_tokens must be a positive integer"),
        ({"cfg_scale": -0.5}, "cfg_scale must be 0"),
    ],
)
def test_bad_configs_are_rejected_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        EvalConfig(**kwargs)
    assert "\n" not in str(error.value)
