"""Why a photo was refused, as a stable code plus a message fit to show the sender."""

from __future__ import annotations

from typing import Final

EMPTY: Final = "empty"
UNSUPPORTED: Final = "unsupported_type"
TOO_LARGE: Final = "too_large"
TIMEOUT: Final = "timeout"
DAMAGED: Final = "damaged"
CRASHED: Final = "crashed"
UNAVAILABLE: Final = "unavailable"

# English defaults; the reason code is the key a front end translates with.
_MESSAGES: Final[dict[str, str]] = {
    EMPTY: "This file is empty.",
    UNSUPPORTED: "This file is not a photo we can read.",
    TOO_LARGE: "This image is too large to process.",
    TIMEOUT: "This image is too large to process.",
    DAMAGED: "This photo is damaged or incomplete.",
    CRASHED: "This photo is damaged or incomplete.",
    UNAVAILABLE: "We could not process this photo right now. Please try again later.",
}


class PhotoRejected(Exception):
    """A photo we will not (or cannot) turn into a display copy."""

    def __init__(self, reason_code: str, message: str | None = None) -> None:
        self.reason_code = reason_code
        self.message = message or _MESSAGES.get(reason_code, _MESSAGES[DAMAGED])
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"PhotoRejected({self.reason_code!r}, {self.message!r})"


def unsupported(kind_label: str | None) -> PhotoRejected:
    """Build the rejection for a file that is not JPEG/PNG/WEBP(/HEIC)."""
    if kind_label is None:
        return PhotoRejected(UNSUPPORTED)
    return PhotoRejected(UNSUPPORTED, f"This file is not a photo we can read ({kind_label}).")
