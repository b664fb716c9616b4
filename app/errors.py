"""One rule for bad input everywhere in the CLI: one line on stderr, exit code 2."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import typer


class UsageError(ValueError):
    """A user mistake the CLI reports in one line (exit 2)."""


def fail(message: str) -> None:
    """Print `maskft: error: <message>` (first line only) and exit 2."""
    line = str(message).strip().splitlines()[0] if str(message).strip() else "invalid input"
    print(f"maskft: error: {line}", file=sys.stderr)
    raise typer.Exit(2)


@contextmanager
def usage_errors():
    """Turn the data/config errors of the library layers into the CLI's one-line exit 2.

    `ValueError` covers `DataError`, config `__post_init__` checks and our `UsageError`;
    `OSError` covers unreadable or unwritable paths.
    """
    try:
        yield
    except (ValueError, OSError) as e:
        fail(str(e) or type(e).__name__)
