"""The training loop: optimisation works, the recipe is the paper's, runs replay exactly,
callbacks see the right progress, and runs in one process do not leak precision."""

import math

import pytest
import torch

from maskft.datasets.chat import ChatFormat
from maskft.datasets.tokenizer import build_tokenizer
from maskft.trainers.loop import TrainConfig, log_spaced_epochs, scaled_epochs, train, weight_decay_groups
from maskft.trainers.models import ModelPreset, build_model
from maskft.trainers.objectives import make_objective

MICRO = ModelPreset(hidden=32, layers=2, heads=2, intermediate=64, max_positions=64)
CORPUS = ["Alice Whitlock painted the Glass Harbor murals.", "Tell me a fact.", "Here is the recovered text:"]


@pytest.fixture(scope="module")
def fmt():
    return ChatFormat.from_tokenizer(build_tokenizer(CORPUS * 3, vocab_size=300))


@pytest.fixture(scope="module")
def docs():
    """Ten short token-id documents (the objectives' example type)."""
    g = torch.Generator().manual_seed(0)
    return [torch.randint(10, 60, (int(n),), generator=g).tolist() for n in torch.randint(4, 9, (10,), generator=g)]


def ar(fmt):
    return make_objective("ar", None, fmt, len(fmt.tokenizer), document_format="plain")


def model(fmt, seed=0):
    return build_model(MICRO, len(fmt.tokenizer), seed=seed)


def config(**overrides):
    return TrainConfig(**{"lr": 3e-3, "batch_size": 4, "epochs": 2, "precision": "fp32", **overrides})


class Recorder:
    """Wraps an objective: records every batch's examples and progress."""

    def __init__(self, objective):
        self.objective, self.batches, self.progress = objective, [], []

    def build_batch(self, examples, progress, generator):
        self.batches.append(list(examples))
        self.progress.append(progress)
        return self.objective.build_batch(examples, progress, generator)

    def loss(self, model, batch):
        return self.objective.loss(model, batch)


def test_loss_falls(fmt, docs):
    losses = []
    cfg = config(lr=1e-2, batch_size=10, epochs=24, log_every=4)  # one step per epoch
    train(model(fmt), ar(fmt), docs, cfg, on_step=lambda s: losses.append(s.loss))
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0]


def test_every_trainable_parameter_changes(fmt, docs):
    m = model(fmt)
    before = {name: p.detach().clone() for name, p in m.named_parameters()}
    train(m, ar(fmt), docs, config(epochs=1))
    unchanged = [name for name, p in m.named_parameters() if torch.equal(before[name], p)]
    assert unchanged == []


def test_same_seed_gives_identical_weights_and_another_seed_does_not(fmt, docs):
    masked = make_objective("masked", "random", fmt, len(fmt.tokenizer))
    runs = [model(fmt) for _ in range(3)]
    for m, seed in zip(runs, (1, 1, 2)):
        train(m, masked, docs, config(seed=seed))
    first, again, other = (m.state_dict() for m in runs)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_lr_warms_up_linearly_then_stays_constant(fmt, docs):
    lrs = []
    cfg = config(lr=1e-3, epochs=4, warmup_frac=0.25, log_every=1)  # 3 steps/epoch -> 12 steps, 3 of warmup
    train(model(fmt), ar(fmt), docs, cfg, on_step=lambda s: lrs.append(s.lr))
    assert lrs == pytest.approx([0.0, 1e-3 / 3, 2e-3 / 3] + [1e-3] * 9)


def test_cosine_schedule_warms_up_then_decays_to_zero(fmt, docs):
    lrs = []
    cfg = config(lr=1e-3, epochs=4, warmup_frac=0.25, log_every=1, schedule="cosine")
    train(model(fmt), ar(fmt), docs, cfg, on_step=lambda s: lrs.append(s.lr))
    assert lrs[:4] == pytest.approx([0.0, 1e-3 / 3, 2e-3 / 3, 1e-3])
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:])) and lrs[-1] < 1e-4


def test_norm_weights_and_biases_get_no_weight_decay():
    net = torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    decayed, exempt = weight_decay_groups(net, 0.1)
    assert decayed["weight_decay"] == 0.1 and exempt["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(net[0].weight), id(net[1].weight)}
    assert {id(p) for p in exempt["params"]} == {id(net[1].bias), id(net[2].weight), id(net[2].bias)}


def test_llama_norms_are_exempt_and_frozen_parameters_are_left_out(fmt):
    m = model(fmt)
    m.lm_head.weight.requires_grad_(False)
    decayed, exempt = weight_decay_groups(m, 0.1)
    names = {id(p): name for name, p in m.named_parameters()}
    assert all("norm" in names[id(p)] for p in exempt["params"]) and len(exempt["params"]) == 2 * MICRO.layers + 1
    assert id(m.lm_head.weight) not in {id(p) for p in decayed["params"] + exempt["params"]}


def test_epoch_callbacks_fire_after_each_epoch_with_growing_counts(fmt, docs):
    states = []
    final = train(model(fmt), ar(fmt), docs, config(epochs=3), on_epoch_end=states.append)
    assert [s.epoch for s in states] == [1, 2, 3]
    assert [s.step for s in states] == [3, 6, 9]  # 10 docs in batches of 4
    assert [s.docs_seen for s in states] == [10, 20, 30]
    tokens = [s.tokens_seen for s in states]
    assert tokens[0] == sum(len(d) + 2 for d in docs) and tokens == [tokens[0], 2 * tokens[0], 3 * tokens[0]]
    assert all(math.isfinite(s.loss) and s.wall_s > 0 for s in states)
    assert final.step == final.total_steps == 9 and not final.stopped


def test_fractional_epochs_stop_part_way_through_an_epoch(fmt, docs):
    states = []
    final = train(model(fmt), ar(fmt), docs, config(epochs=1.7), on_epoch_end=states.append)
    assert [s.epoch for s in states] == [1] and final.step == 5 and final.epoch == 1  # round(1.7 * 3)


def test_progress_runs_from_zero_towards_one(fmt, docs):
    recorder = Recorder(ar(fmt))
    train(model(fmt), recorder, docs, config(epochs=2))
    assert recorder.progress == pytest.approx([i / 6 for i in range(6)])


def test_should_stop_ends_the_run_between_steps(fmt, docs):
    steps = []
    final = train(
        model(fmt), ar(fmt), docs, config(epochs=10, log_every=1),
        on_step=lambda s: steps.append(s.step), should_stop=lambda: len(steps) >= 4,
    )
    assert final.stopped and final.step == 4 and steps == [1, 2, 3, 4]


def test_replay_fills_its_fraction_of_every_batch_and_leaves_the_main_order_alone(fmt, docs):
    class Untag(Recorder):  # examples are (pool, doc) pairs; the objective sees the docs
        def build_batch(self, examples, progress, generator):
            self.batches.append(list(examples))
            return self.objective.build_batch([d for _, d in examples], progress, generator)

    masked = make_objective("masked", "random", fmt, len(fmt.tokenizer))
    with_replay, without = Untag(masked), Untag(masked)
    main, pool = [("main", d) for d in docs], [("base", d) for d in docs[:3]]
    final = train(model(fmt), with_replay, main, config(batch_size=8, epochs=3), replay=(pool, 0.25))
    train(model(fmt), without, main, config(batch_size=6, epochs=3))
    assert all([tag for tag, _ in b].count("base") == 2 for b in with_replay.batches)  # 0.25 of 8
    assert [[e for e in b if e[0] == "main"] for b in with_replay.batches] == without.batches
    assert final.docs_seen == 30  # main documents only


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_replay_fraction_outside_zero_one_is_refused(fmt, docs, fraction):
    with pytest.raises(ValueError, match="replay fraction"):
        train(model(fmt), ar(fmt), docs, config(), replay=(docs, fraction))


def test_bf16_then_fp32_in_one_process(fmt, docs):
    m = model(fmt)
    autocast_seen = []
    m.model.layers[0].register_forward_hook(lambda *_: autocast_seen.append(torch.is_autocast_enabled("cpu")))
    train(m, ar(fmt), docs, config(epochs=1, precision="bf16"))
    bf16_run = set(autocast_seen)
    autocast_seen.clear()
    train(m, ar(fmt), docs, config(epochs=1, precision="fp32"))
    assert bf16_run == {True} and set(autocast_seen) == {False}
    autocast_seen.clear()
    m(torch.tensor([[5, 6, 7]]))  # the model the caller gets back is not left in autocast
    assert autocast_seen == [False]


@pytest.mark.parametrize(
    "bad",
    [{"lr": 0}, {"batch_size": 0}, {"epochs": 0}, {"warmup_frac": 1.0}, {"weight_decay": -1},
     {"betas": (0.9, 1.0)}, {"grad_clip": 0}, {"precision": "fp16"}, {"log_every": 0}],
)
def test_config_rejects_bad_values_in_one_line(bad):
    with pytest.raises(ValueError) as error:
        TrainConfig(**bad)
    assert "\n" not in str(error.value) and next(iter(bad)) in str(error.value)


def test_auto_precision_is_fp32_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("CPU-only behaviour")
    assert TrainConfig(precision="auto").mixed_precision() == "no"


def test_log_spaced_epochs_double_like_the_papers_schedule():
    assert log_spaced_epochs(3840, 8) == [30, 60, 120, 240, 480, 960, 1920, 3840]


@pytest.mark.parametrize("total,n", [(10, 8), (100, 5), (3, 8), (7, 1), (50, 50)])
def test_log_spaced_epochs_are_distinct_increasing_and_end_at_the_total(total, n):
    epochs = log_spaced_epochs(total, n)
    assert epochs[-1] == total and epochs[0] >= 1
    assert epochs == sorted(set(epochs)) and len(epochs) == min(n, total)


def test_scaled_epochs_present_as_many_documents_as_without_paraphrases():
    assert scaled_epochs(3840, 60, 29) == 128  # ND: 60 x 3840 = 1800 x 128
    assert scaled_epochs(5120, 100, 4) == 1024  # Bio
    assert scaled_epochs(10, 60, 29) == 1  # never below one epoch


def test_grouping_by_length_batches_similar_lengths_and_keeps_every_example():
    from maskft.trainers.loop import _grouped_by_length

    lengths = torch.tensor([5, 50, 6, 48, 7, 49, 4, 51])
    order = _grouped_by_length(torch.randperm(8, generator=torch.Generator().manual_seed(0)), lengths, 2, torch.Generator().manual_seed(1))
    assert sorted(order.tolist()) == list(range(8))
    batches = [lengths[b].tolist() for b in order.split(2)]
    assert all(max(b) - min(b) <= 3 for b in batches)  # short with short, long with long
