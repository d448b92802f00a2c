"""Domain errors: each carries a message fit to show to the person who caused it."""

from __future__ import annotations


class TiplineError(Exception):
    """Base of Tipline's domain errors."""


class InvalidInput(TiplineError):
    """The input cannot be accepted; the message says why and what to do."""


class NotFound(TiplineError):
    """The object does not exist, or the caller may not know that it does."""


class RateLimited(TiplineError):
    """Too much, too fast; try again later."""


class Deferred(TiplineError):
    """Not now: the work is kept and taken up again after `wait` seconds (not a failure)."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"deferred for {wait:.3f} s")
        self.wait = wait
