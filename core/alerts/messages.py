"""What an area alert says, in the volunteer's language: the child, where and when, how far.

Only public fields of a verified case go into an alert; the photo is our sanitised display
copy. The buttons carry short callback data the bot's /alerts handlers understand.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.delivery.outbox import CAPTION_LIMIT
from core.delivery.people import Notice, Template, notice_of
from core.i18n import Texts
from core.whatsapp.payloads import AREA_ALERT
from storage.models import Case

CALLBACK_PREFIX = "va"
"""Alert buttons: va:report:<case ref> starts a report on the case, va:pause:<ref> pauses."""
DESCRIPTION_CHARS = 300


def report_data(ref: str) -> str:
    """Callback data of the "I saw this child — report" button."""
    return f"{CALLBACK_PREFIX}:report:{ref}"


def pause_data(ref: str) -> str:
    """Callback data of the "Pause alerts" button."""
    return f"{CALLBACK_PREFIX}:pause:{ref}"


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_of(case: Case, *, now: datetime) -> int | None:
    """The child's age now: from the birth date, else the age when last seen."""
    if case.birth_date is not None:
        return max(0, _years(case.birth_date, now.date()))
    return case.age_years


def _local(moment: datetime, zone_name: str | None) -> str:
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def caption(
    case: Case, *, texts: Texts, distance_km: float, timezone: str | None, now: datetime
) -> str:
    """The alert's caption: name and age, last seen where and when, distance, description."""
    age = age_of(case, now=now)
    lines = [texts("alerts.title")]
    if age is None:
        lines.append(case.full_name)
    else:
        lines.append(texts("alerts.name_age", name=case.full_name, age=age))
    place = case.last_seen_place or texts("alerts.place_unknown")
    if case.last_seen_at is not None:
        when = _local(case.last_seen_at, timezone)
        lines.append(texts("alerts.last_seen", place=place, when=when))
    else:
        lines.append(texts("alerts.last_seen_place", place=place))
    lines.append(texts("alerts.distance", distance=max(1, round(distance_km))))
    if case.description.strip():
        lines.append(_cut(case.description, DESCRIPTION_CHARS))
    lines.append(texts("alerts.footer", case=case.ref))
    text = "\n".join(lines)
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


def alert_notice(
    case: Case,
    *,
    photo_sha: str | None,
    language: str,
    distance_km: float,
    timezone: str | None,
    now: datetime,
) -> Notice:
    """The caption under the display copy (text alone without a ready photo) with both
    buttons; outside WhatsApp's window, the area alert template (name, area, case code)."""
    texts = Texts(language)
    text = caption(case, texts=texts, distance_km=distance_km, timezone=timezone, now=now)
    buttons = [
        [(texts("alerts.button_report"), report_data(case.ref))],
        [(texts("alerts.button_pause"), pause_data(case.ref))],
    ]
    area = case.last_seen_place or texts("alerts.place_unknown")
    template = Template.of(AREA_ALERT, case.full_name, area, case.ref)
    return Notice(text, language, buttons=buttons, photo=photo_sha, template=template)


def ended_notice(case: Case, *, language: str) -> Notice:
    """The news that a case the volunteer was alerted about has ended (found or closed)."""
    texts = Texts(language)
    key = "alerts.ended_found" if case.status == "found" else "alerts.ended_closed"
    return notice_of(texts(key, name=case.full_name, case=case.ref), language)
