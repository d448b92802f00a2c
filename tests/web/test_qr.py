"""The dashboard's inline SVG QR code (TOTP set-up), drawn by segno."""

from __future__ import annotations

import re

import segno

from web.dashboard.qr import MAX_CHARS, qr_svg

URI = "otpauth://totp/Tipline:mod%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=Tipline"


def test_the_svg_is_segnos_code_for_the_uri_scaled_by_css() -> None:
    svg = str(qr_svg(URI))
    side = segno.make(URI, error="m", micro=False).symbol_size(border=4)[0]
    assert svg.startswith(f'<svg viewBox="0 0 {side} {side}" class="qr">')
    assert "<script" not in svg and "style=" not in svg and "JBSWY3DP" not in svg
    assert re.search(r'<path stroke="#000" d="M4 4\.5h7', svg)  # the top-left finder pattern


def test_text_too_long_for_a_qr_code_gets_none() -> None:
    assert qr_svg("x" * (MAX_CHARS + 1)) is None and qr_svg("") is None
