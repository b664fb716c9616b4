"""Model construction and loading: one Llama-style backbone for both AR and dLLM runs.

The AR model and the dLLM are the *same* architecture and weight layout; the dLLM only
attends bidirectionally. In transformers 5.x that is `config.is_causal = False`: the
model forward copies it into the `is_causal` kwarg that both the mask builder and the
sdpa/eager attention read, and it is saved in config.json, so a reloaded dLLM stays
bidirectional. (Setting it per call with `model(..., is_causal=False)` works too, but a
flag that lives in the checkpoint cannot be forgotten by a caller.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedModel

from maskft.datasets.tokenizer import _progress_bars_off

# Architectures that are bidirectional by construction (remote-code masked diffusion LMs).
NATIVELY_BIDIRECTIONAL = ("llada", "dream")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ModelPreset:
    """Size of a from-scratch Llama: the CPU protocol trains these instead of downloading."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int = 512

    def __post_init__(self) -> None:
        if min(self.hidden, self.layers, self.heads, self.intermediate, self.max_positions) <= 0:
            raise ValueError(f"model sizes must be positive, got {self}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden size {self.hidden} is not divisible by {self.heads} heads")


PRESETS = {
    "micro": ModelPreset(hidden=64, layers=2, heads=2, intermediate=172),  # tests and --quick: seconds, not minutes
    "tiny": ModelPreset(hidden=256, layers=4, heads=4, intermediate=688),
    "small": ModelPreset(hidden=384, layers=6, heads=6, intermediate=1024),
    "medium": ModelPreset(hidden=512, layers=8, heads=8, intermediate=1376),  # ~2.4x small's compute: the next size up on a CPU
}


def resolve_preset(preset: str | ModelPreset) -> ModelPreset:
    if isinstance(preset, ModelPreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {', '.join(PRESETS)} or a checkpoint directory")
    return PRESETS[preset]


def build_model(
    preset: str | ModelPreset,
    vocab_size: int,
    *,
    bos_id: int | None = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    bidirectional: bool = False,
    seed: int = 0,
) -> LlamaForCausalLM:
    """A freshly initialised Llama; the same seed gives the same weights for AR and dLLM."""
    size = resolve_preset(preset)
    if vocab_size <= 0:
        raise ValueError(f"vocabulary size must be positive, got {vocab_size}")
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        intermediate_size=size.intermediate,
        max_position_embeddings=size.max_positions,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):  # seed the init without disturbing the caller's RNG
        torch.manual_seed(seed)
        model = LlamaForCausalLM._from_config(config, attn_implementation="sdpa")
    if bidirectional:
        make_bidirectional(model)
    return model


def is_checkpoint(path: str | Path) -> bool:
    path = Path(path)
    return (path / "config.json").is_file() and any((path / name).is_file() for name in WEIGHT_FILES)


def save_model(model: PreTrainedModel, directory: str | Path) -> Path:
    """Write a checkpoint `load_model` reads back (attention direction included), quietly."""
    directory = Path(directory)
    with _progress_bars_off():
        model.save_pretrained(directory)
    return directory


def load_model(
    path: str | Path,
    *,
    bidirectional: bool | None = None,
    trust_remote_code: bool = False,
    dtype: torch.dtype | str = torch.float32,
) -> PreTrainedModel:
    """Load a local Hugging Face checkpoint directory (never downloads).

    `bidirectional=None` keeps what the checkpoint says; True/False switches attention.
    LLaDA-style checkpoints ship their own model code and need `trust_remote_code=True`.
    """
    path = Path(path)
    if not is_checkpoint(path):
        raise ValueError(f"{path} is not a model checkpoint directory (needs config.json and model weights)")
    try:
        with _progress_bars_off():
            model = AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, trust_remote_code=trust_remote_code, dtype=dtype
            )
    except (OSError, ValueError, KeyError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot load model checkpoint {path}: {reason}") from None
    if bidirectional is True:
        make_bidirectional(model)
    elif bidirectional is False:
        make_causal(model)
    return model


def _natively_bidirectional(model: PreTrainedModel) -> bool:
    return str(getattr(model.config, "model_type", "")).lower().startswith(NATIVELY_BIDIRECTIONAL)


def is_bidirectional(model: torch.nn.Module) -> bool:
    model = getattr(model, "module", model)  # DDP-style wrappers keep the model as .module
    return _natively_bidirectional(model) or getattr(model.config, "is_causal", True) is False


def make_bidirectional(model: PreTrainedModel) -> PreTrainedModel:
    """Switch to full attention in place (the dLLM); weights are untouched."""
    if not _natively_bidirectional(model):
        model.config.is_causal = False
    return model


def make_causal(model: PreTrainedModel) -> PreTrainedModel:
    """Switch back to causal attention in place (e.g. to read an AR-initialised dLLM as AR)."""
    if _natively_bidirectional(model):
        raise ValueError(f"{model.config.model_type} models are bidirectional by construction and cannot be made causal")
    model.config.is_causal = True
    return model


def count_parameters(model: torch.nn.Module, *, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
