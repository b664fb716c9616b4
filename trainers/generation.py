"""Answer decoding: greedy for AR models, LLaDA's semi-autoregressive sampler for dLLMs.

Both take prompts as token-id lists and return the generated ids cut before the first
stop id, so evaluation treats the two model types alike. Prompts are batched by length
and left-padded; position ids count real tokens only, so an answer does not depend on
how much padding its batch-mates caused.

The diffusion sampler follows LLaDA's `generate` at temperature 0 with low-confidence
remasking (paper-notes §4): the prompt is followed by `gen_length` mask tokens; blocks
of `block_length` are filled left to right, each in `steps / blocks` model calls that
commit the most confident predictions inside the block. It costs one full-sequence
forward per step (no KV cache can be exact when every position attends to every
other), so it is made cheaper only in ways that leave every answer unchanged: logits
only for the current block, and a sequence leaves the batch as soon as a block ends
with a committed stop id (the rest would be cut anyway) — the whole batch stops when
none are left.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence

import torch
from transformers import GenerationConfig

from maskft.trainers.models import is_bidirectional


def greedy_generate(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    stop_ids: Sequence[int],
    pad_id: int,
    batch_size: int = 64,
) -> list[list[int]]:
    """Greedy continuations of `prompts` by a causal LM (HF `generate` with its KV cache)."""
    if is_bidirectional(model):
        raise ValueError("greedy_generate needs a causal model; decode a dLLM with diffusion_generate")
    _check_positive(max_new_tokens=max_new_tokens, batch_size=batch_size)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=list(stop_ids), pad_token_id=pad_id
    )
    outputs: list[list[int]] = [[] for _ in prompts]
    with torch.inference_mode():
        for indices, batch in _length_sorted_batches(prompts, batch_size):
            ids, attention = _left_pad(batch, pad_id, _device(model))
            generated = model.generate(ids, attention_mask=attention, generation_config=config)
            for i, row in zip(indices, generated[:, ids.shape[1] :].tolist()):
                outputs[i] = _cut_at_stop(row, stop_ids)
    return outputs


def diffusion_generate(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    gen_length: int,
    block_length: int = 4,
    steps: int | None = None,
    mask_id: int,
    pad_id: int,
    stop_ids: Sequence[int],
    batch_size: int = 64,
    cfg_scale: float = 0.0,
) -> list[list[int]]:
    """LLaDA low-confidence remasking at temperature 0; `steps=None` commits one token per step.

    `cfg_scale > 0` is LLaDA's classifier-free guidance: every call also runs the sequence
    with the prompt masked and extrapolates, `uncond + (1 + cfg_scale)(cond - uncond)`, which
    sharpens what the prompt adds (twice the compute). 0 is the paper's setting."""
    if not is_bidirectional(model):
        raise ValueError("diffusion_generate needs a bidirectional model (a dLLM); decode an AR model with greedy_generate")
    steps = gen_length if steps is None else steps
    steps_per_block = check_diffusion_schedule(gen_length, block_length, steps)
    _check_positive(batch_size=batch_size)
    check_cfg_scale(cfg_scale)
    commits = commits_per_step(block_length, steps_per_block)
    outputs: list[list[int]] = [[] for _ in prompts]
    with torch.inference_mode():
        for indices, batch in _length_sorted_batches(prompts, batch_size):
            rows = _diffuse_batch(model, batch, gen_length, block_length, commits, mask_id, pad_id, stop_ids, cfg_scale)
            for i, row in zip(indices, rows):
                outputs[i] = _cut_at_stop(row, stop_ids)
    return outputs


def check_diffusion_schedule(gen_length: int, block_length: int, steps: int) -> int:
    """Validate a sampler schedule (as LLaDA requires it) and return the steps per block."""
    _check_positive(gen_length=gen_length, block_length=block_length, steps=steps)
    if gen_length % block_length:
        raise ValueError(f"gen_length {gen_length} is not a multiple of block_length {block_length}")
    blocks = gen_length // block_length
    if steps % blocks:
        raise ValueError(f"steps {steps} must be a multiple of the number of blocks ({blocks} = {gen_length} / {block_length})")
    if steps > gen_length:
        raise ValueError(f"steps {steps} exceed gen_length {gen_length}: every step must commit at least one token")
    return steps // blocks


def check_cfg_scale(cfg_scale: float) -> None:
    if not cfg_scale >= 0:
        raise ValueError(f"cfg_scale must be 0 (no guidance) or positive, got {cfg_scale}")


def commits_per_step(block_length: int, steps_per_block: int) -> list[int]:
    """Tokens committed at each step of a block: equal shares, the remainder first (LLaDA)."""
    base, remainder = divmod(block_length, steps_per_block)
    return [base + (step < remainder) for step in range(steps_per_block)]


def _diffuse_batch(
    model,
    prompts: list[list[int]],
    gen_length: int,
    block_length: int,
    commits: list[int],
    mask_id: int,
    pad_id: int,
    stop_ids: Sequence[int],
    cfg_scale: float = 0.0,
) -> list[list[int]]:
    """Sample one left-padded batch; returns every row's `gen_length` generated slots."""
    device = _device(model)
    prompt_ids, prompt_attention = _left_pad(prompts, pad_id, device)
    size, start = prompt_ids.shape
    ids = torch.cat([prompt_ids, torch.full((size, gen_length), mask_id, device=device)], dim=1)
    attention = torch.cat([prompt_attention, torch.ones(size, gen_length, dtype=torch.long, device=device)], dim=1)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    stops = torch.tensor(list(stop_ids), dtype=torch.long, device=device)
    accepts = inspect.signature(model.forward).parameters
    live = torch.arange(size, device=device)  # rows still without a committed stop id
    unprompted = prompt_ids.masked_fill(prompt_attention.bool(), mask_id)  # guidance: the prompt masked, pads kept
    for block_start in range(start, start + gen_length, block_length):
        block = torch.arange(block_start, block_start + block_length, device=device)
        for count in commits:
            rows, kwargs = ids[live], {"attention_mask": attention[live]}
            if "position_ids" in accepts:
                kwargs["position_ids"] = positions[live]
            if cfg_scale > 0:  # the same rows without the prompt, in the same call (as LLaDA's generate)
                rows = torch.cat([rows, torch.cat([unprompted[live], rows[:, start:]], dim=1)])
                kwargs = {name: torch.cat([value, value]) for name, value in kwargs.items()}
            if "logits_to_keep" in accepts:
                kwargs["logits_to_keep"] = block
            logits = model(rows, **kwargs).logits
            if logits.shape[1] != block_length:  # a model that cannot restrict its logits
                logits = logits[:, block]
            if cfg_scale > 0:
                logits, unconditional = logits.chunk(2)
                logits = unconditional + (1 + cfg_scale) * (logits - unconditional)
            confidence, tokens = logits.double().softmax(-1).max(-1)
            still_masked = ids[live][:, block] == mask_id
            confidence = confidence.masked_fill(~still_masked, float("-inf"))
            chosen = confidence.topk(count, dim=-1).indices  # (live rows, count) offsets in the block
            ids[live.unsqueeze(1), block_start + chosen] = tokens.gather(1, chosen)
        finished = torch.isin(ids[live, start : block_start + block_length], stops).any(dim=1)
        live = live[~finished]
        if live.numel() == 0:
            break
    return ids[:, start:].tolist()


def _length_sorted_batches(prompts: Sequence[Sequence[int]], batch_size: int) -> Iterator[tuple[list[int], list[list[int]]]]:
    """(original indices, prompts) batches of similar length: less padding, same answers."""
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    for first in range(0, len(order), batch_size):
        indices = order[first : first + batch_size]
        yield indices, [list(prompts[i]) for i in indices]


def _left_pad(batch: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, prompt in enumerate(batch):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        attention[row, width - len(prompt) :] = 1
    return ids.to(device), attention.to(device)


def _cut_at_stop(row: list[int], stop_ids: Sequence[int]) -> list[int]:
    stops = set(stop_ids)
    for position, token in enumerate(row):
        if token in stops:
            return row[:position]
    return row


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
