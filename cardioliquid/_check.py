"""Private validators with one message format (after MNE's ``_check_option``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError``.

    The message reads: "Invalid value for the 'name' parameter. Allowed values
    are 'a', 'b', but got 'c' instead."
    """
    allowed = list(allowed)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"Invalid value for the {name!r} parameter. Allowed values are {options}, "
            f"but got {value!r} instead."
        )
    return value


def check_positive(name: str, value: float) -> float:
    """Return ``value`` if it is a finite number > 0, else raise ``ValueError``."""
    try:
        ok = float(value) > 0 and float(value) != float("inf")
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"Invalid value for the {name!r} parameter. Expected a positive number, "
            f"but got {value!r} instead."
        )
    return value


def with_article(word: str) -> str:
    """``word`` with its indefinite article, for messages: "an arrhythmia", "a seizure"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def number_arg(kind: type = float, *, minimum: float | None = None,
               maximum: float | None = None, exclusive_minimum: bool = False):
    """An ``argparse`` ``type`` that parses ``kind`` and keeps it within bounds.

    A value out of range is a usage error (argparse prints it with the flag's
    name and exits 2) instead of a traceback from deep inside the run.

    Parameters
    ----------
    kind : type
        ``int`` or ``float``.
    minimum, maximum : float, optional
        Inclusive bounds; ``exclusive_minimum`` makes the lower one strict.
    """
    import argparse
    import math

    low = "" if minimum is None else (f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}")
    high = "" if maximum is None else f"<= {maximum:g}"
    wanted = " and ".join(s for s in (low, high) if s)
    noun = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        bad = not math.isfinite(value)
        if minimum is not None:
            bad |= value <= minimum if exclusive_minimum else value < minimum
        if maximum is not None:
            bad |= value > maximum
        if bad:
            raise argparse.ArgumentTypeError(f"expected {noun} {wanted}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
