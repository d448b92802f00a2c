"""The web's one Jinja2 environment: public pages and the dashboard render with the same filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates

from core.cases.photo_ages import age_caption
from core.i18n import Texts

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def when(value: datetime | None) -> str:
    """A timestamp as staff read it everywhere: UTC, to the minute."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def hours(value: float | None) -> str:
    """A signed number of hours in words: '5.0 h later', '2.0 h before'."""
    if value is None:
        return "time unknown"
    return f"{abs(value):.1f} h {'later' if value >= 0 else 'before'}"


def urlencode_page(params: Mapping[str, str], number: int) -> str:
    """The same query string on another page of results."""
    return urlencode({**{k: v for k, v in params.items() if k != "page"}, "page": number})


def photo_caption(photo: Any, texts: Texts | None = None) -> str:
    """ "Photo at age 2" / "Age-progressed image, about age 30" under a case photo.

    Public pages pass the reader's texts; the dashboard's staff read English.
    """
    return age_caption(photo.age_months, photo.kind, texts or Texts("en"))


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["urlencode_page"] = urlencode_page
TEMPLATES.env.filters["hours"] = hours
TEMPLATES.env.globals["photo_caption"] = photo_caption
