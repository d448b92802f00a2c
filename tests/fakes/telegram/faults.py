"""Planned failures: the next N calls of a method fail, or hang past the client's timeout."""

from collections import deque
from dataclasses import dataclass

ANY_METHOD = "*"
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests: retry after 1",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Failure:
    """Answer with this error instead of running the method."""

    status: int
    description: str
    remaining: int
    retry_after: int | None = None
    body: str | None = None


@dataclass
class Hang:
    """Hold the answer for `seconds`; `delivered`: the method runs first (answer lost)."""

    seconds: float
    remaining: int
    delivered: bool


class FaultPlan:
    """Faults queued per method name (lower case), consumed in order; "*" matches any method."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[Failure | Hang]] = {}

    def fail(
        self,
        method: str,
        *,
        status: int,
        description: str | None,
        count: int,
        retry_after: int | None,
        body: str | None,
    ) -> None:
        """Queue a failure (Telegram's usual text for the status unless given)."""
        text = description or _DEFAULT_DESCRIPTIONS.get(status, "Bad Request")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._add(method, Failure(status, text, count, retry_after, body))

    def hang(self, method: str, *, seconds: float, count: int, delivered: bool) -> None:
        """Queue a hang."""
        self._add(method, Hang(seconds, count, delivered))

    def _add(self, method: str, fault: Failure | Hang) -> None:
        self._pending.setdefault(method.lower(), deque()).append(fault)

    def take(self, key: str) -> Failure | Hang | None:
        """The fault for this call of method `key` (lower case), if one is planned."""
        for name in (key, ANY_METHOD):
            pending = self._pending.get(name)
            if pending:
                fault = pending[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    pending.popleft()
                return fault
        return None

    def clear(self) -> None:
        """Forget every planned fault."""
        self._pending.clear()
