"""Greedy and diffusion decoding give exactly what the textbook algorithms give, just batched."""

import pytest
import torch

from maskft.trainers.generation import check_diffusion_schedule, commits_per_step, diffusion_generate, greedy_generate
from maskft.trainers.models import ModelPreset, build_model

MICRO = ModelPreset(hidden=32, layers=2, heads=4, intermediate=64, max_positions=64)
VOCAB, PAD, MASK = 40, 1, 3


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    """Seven prompts of different lengths: batches of 3 need left padding."""
    g = torch.Generator().manual_seed(0)
    return [torch.randint(6, VOCAB, (n,), generator=g).tolist() for n in (2, 7, 4, 8, 3, 5, 6)]


def stop_with_varied_cuts(outputs: list[list[int]]) -> int:
    """The generated token whose first occurrence varies most: as a stop id it ends answers at different places."""
    tokens = sorted({t for row in outputs for t in row})
    return max(tokens, key=lambda t: len({len(cut(row, t)) for row in outputs}))


def cut(row: list[int], stop: int) -> list[int]:
    return row[: row.index(stop)] if stop in row else row


# ---- greedy --------------------------------------------------------------------------


@torch.no_grad()
def naive_greedy(model, prompt: list[int], new_tokens: int) -> list[int]:
    """One prompt, no padding, no cache: append the argmax and run the whole sequence again."""
    ids = torch.tensor([prompt])
    for _ in range(new_tokens):
        ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids[0, len(prompt) :].tolist()


def test_batched_greedy_equals_a_naive_loop_per_prompt(prompts):
    model = build_model(MICRO, VOCAB, seed=1).eval()
    expected = [naive_greedy(model, p, 6) for p in prompts]
    assert greedy_generate(model, prompts, max_new_tokens=6, stop_ids=[], pad_id=PAD, batch_size=3) == expected


def test_greedy_output_ends_before_the_first_stop_id(prompts):
    model = build_model(MICRO, VOCAB, seed=1).eval()
    full = [naive_greedy(model, p, 6) for p in prompts]
    stop = stop_with_varied_cuts(full)
    got = greedy_generate(model, prompts, max_new_tokens=6, stop_ids=[stop], pad_id=PAD, batch_size=3)
    assert got == [cut(row, stop) for row in full]
    assert len({len(row) for row in got}) > 1


def test_greedy_refuses_a_bidirectional_model(prompts):
    with pytest.raises(ValueError, match="needs a causal model"):
        greedy_generate(build_model(MICRO, VOCAB, bidirectional=True), prompts, max_new_tokens=2, stop_ids=[], pad_id=PAD)


# ---- diffusion -----------------------------------------------------------------------


@torch.no_grad()
def reference_llada(model, prompt: list[int], gen_length: int, block_length: int, steps: int, cfg_scale: float = 0.0) -> list[int]:
    """LLaDA's `generate` at temperature 0, low-confidence remasking, one prompt, no tricks."""
    x = torch.tensor([prompt + [MASK] * gen_length])
    prompt_index = x != MASK
    start, blocks = len(prompt), gen_length // block_length
    steps_per_block = steps // blocks
    for b in range(blocks):
        block_end = start + (b + 1) * block_length
        base, remainder = divmod(int((x[:, block_end - block_length : block_end] == MASK).sum()), steps_per_block)
        for step in range(steps_per_block):
            if cfg_scale > 0:
                unprompted = x.clone()
                unprompted[prompt_index] = MASK
                logits, unconditional = model(torch.cat([x, unprompted])).logits.chunk(2)
                logits = unconditional + (cfg_scale + 1) * (logits - unconditional)
            else:
                logits = model(x).logits
            prediction = logits.argmax(-1)
            confidence = torch.softmax(logits.double(), -1).gather(-1, prediction.unsqueeze(-1)).squeeze(-1)
            confidence[:, block_end:] = -torch.inf
            confidence = torch.where(x == MASK, confidence, -torch.inf)
            chosen = confidence[0].topk(base + (step < remainder)).indices
            x[0, chosen] = prediction[0, chosen]
    return x[0, start:].tolist()


@pytest.mark.parametrize(
    "gen_length, block_length, steps",
    [(12, 4, None), (12, 2, 6), (12, 12, 6), (12, 4, 9)],
    ids=["paper-1-token-per-step", "2-tokens-per-step", "one-block", "commits-2-1-1"],
)
def test_batched_diffusion_equals_the_reference_sampler(prompts, gen_length, block_length, steps):
    model = build_model(MICRO, VOCAB, bidirectional=True, seed=1).eval()
    full = [reference_llada(model, p, gen_length, block_length, steps or gen_length) for p in prompts]
    stop = stop_with_varied_cuts(full)  # rows end in different blocks: each leaves the batch on its own
    assert len({len(cut(row, stop)) for row in full}) > 1
    got = diffusion_generate(
        model, prompts, gen_length=gen_length, block_length=block_length, steps=steps,
        mask_id=MASK, pad_id=PAD, stop_ids=[stop], batch_size=3,
    )
    assert got == [cut(row, stop) for row in full]


def test_guided_diffusion_equals_the_reference_sampler_with_guidance(prompts):
    model = build_model(MICRO, VOCAB, bidirectional=True, seed=1).eval()
    full = [reference_llada(model, p, 12, 4, 12, cfg_scale=1.5) for p in prompts]
    got = diffusion_generate(model, prompts, gen_length=12, mask_id=MASK, pad_id=PAD, stop_ids=[], batch_size=3, cfg_scale=1.5)
    assert got == full
    unguided = diffusion_generate(model, prompts, gen_length=12, mask_id=MASK, pad_id=PAD, stop_ids=[], batch_size=3)
    assert got != unguided  # guidance changes what is decoded


def test_a_negative_guidance_scale_is_refused(prompts):
    model = build_model(MICRO, VOCAB, bidirectional=True, seed=1).eval()
    with pytest.raises(ValueError, match="cfg_scale must be 0"):
        diffusion_generate(model, prompts, gen_length=8, mask_id=MASK, pad_id=PAD, stop_ids=[], cfg_scale=-1.0)


class IdsAndMaskOnly(torch.nn.Module):
    """A model whose forward takes only ids and a mask (as LLaDA's remote code): no logits_to_keep."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def forward(self, input_ids, attention_mask=None):
        return self.model(input_ids, attention_mask=attention_mask)


def test_diffusion_works_with_a_model_that_only_takes_ids_and_a_mask(prompts):
    model = build_model(MICRO, VOCAB, bidirectional=True, seed=1).eval()
    expected = [reference_llada(model, p, 8, 4, 8) for p in prompts]
    got = diffusion_generate(IdsAndMaskOnly(model), prompts, gen_length=8, mask_id=MASK, pad_id=PAD, stop_ids=[], batch_size=4)
    assert got == expected


class AlwaysStops(torch.nn.Module):
    """A dLLM stub that predicts the stop id everywhere, counting its forward calls."""

    config = type("Config", (), {"is_causal": False, "model_type": "stub"})()

    def __init__(self, stop: int):
        super().__init__()
        self.stop, self.calls = stop, 0
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=0):
        self.calls += 1
        logits = torch.zeros(*input_ids.shape, VOCAB)
        logits[..., self.stop] = 1.0
        return type("Output", (), {"logits": logits[:, logits_to_keep]})()


def test_diffusion_stops_calling_the_model_once_every_answer_has_ended(prompts):
    model = AlwaysStops(stop=5)
    got = diffusion_generate(model, prompts, gen_length=32, block_length=4, mask_id=MASK, pad_id=PAD, stop_ids=[5])
    assert got == [[] for _ in prompts]
    assert model.calls == 4  # one block of 4 steps instead of 32 steps


def test_diffusion_refuses_a_causal_model(prompts):
    with pytest.raises(ValueError, match="needs a bidirectional model"):
        diffusion_generate(build_model(MICRO, VOCAB), prompts, gen_length=4, mask_id=MASK, pad_id=PAD, stop_ids=[])


def test_commits_are_spread_evenly_with_the_remainder_first():
    assert commits_per_step(4, 4) == [1, 1, 1, 1]
    assert commits_per_step(4, 3) == [2, 1, 1]
    assert commits_per_step(4, 1) == [4]


def test_schedule_gives_steps_per_block():
    assert check_diffusion_schedule(32, 4, 32) == 4
    assert check_diffusion_schedule(32, 32, 8) == 8


@pytest.mark.parametrize(
    "gen_length, block_length, steps, message",
    [
        (10, 4, 10, "not a multiple of block_length"),
        (8, 4, 3, "must be a multiple of the number of blocks"),
        (8, 4, 16, "exceed gen_length"),
        (0, 4, 4, "gen_length must be a positive integer"),
        (8, 0, 8, "block_length must be a positive integer"),
    ],
)
def test_bad_schedules_are_rejected_in_one_line(gen_length, block_length, steps, message):
    with pytest.raises(ValueError, match=message) as error:
        check_diffusion_schedule(gen_length, block_length, steps)
    assert "\n" not in str(error.value)


def test_diffusion_generate_validates_its_schedule(prompts):
    model = build_model(MICRO, VOCAB, bidirectional=True)
    with pytest.raises(ValueError, match="not a multiple of block_length"):
        diffusion_generate(model, prompts, gen_length=6, block_length=4, mask_id=MASK, pad_id=PAD, stop_ids=[])
