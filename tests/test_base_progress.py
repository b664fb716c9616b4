"""Base-stage progress lines: step updates are throttled, base-QA checks always show."""

from types import SimpleNamespace

from maskft.ablate.runner import PROGRESS_EVERY_S, BaseProgress


def state(step: int) -> SimpleNamespace:
    return SimpleNamespace(epoch=5, step=step, total_steps=100, loss=0.5)


def test_step_updates_are_throttled_but_a_base_qa_check_shows_at_once():
    lines, now = [], [0.0]
    progress = BaseProgress(lines.append, "bio", clock=lambda: now[0])

    progress("base ar", state(1))
    progress("base ar", state(2))  # same instant: dropped
    progress("base ar: base QA 0.60 at epoch 5", state(2))  # a check: shown though a step line just went out
    now[0] += PROGRESS_EVERY_S
    progress("base ar", state(3))

    assert lines == [
        "base ar on bio: epoch 5, step 1/100, loss 0.500",
        "base ar: base QA 0.60 at epoch 5 on bio: epoch 5, step 2/100, loss 0.500",
        "base ar on bio: epoch 5, step 3/100, loss 0.500",
    ]
