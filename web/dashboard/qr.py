"""Inline SVG QR codes for the dashboard (the TOTP set-up page), drawn by segno.

Drawn here rather than by any online QR service, so the TOTP secret never leaves the server.
"""

from __future__ import annotations

import segno
from markupsafe import Markup

MAX_CHARS = 1000  # a set-up URI is ~150 characters; anything far longer is a mistake


def qr_svg(text: str) -> Markup | None:
    """An inline SVG QR code for text (no script, no style), or None when it is too long."""
    if not text or len(text) > MAX_CHARS:
        return None
    code = segno.make(text, error="m", micro=False, boost_error=False)
    svg = code.svg_inline(
        border=4, dark="#000", light="#fff", svgclass="qr", lineclass=None, omitsize=True
    )
    # segno's output holds only numbers and path commands, nothing of the input.
    return Markup(svg)  # noqa: S704
