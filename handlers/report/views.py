"""What each step says and which buttons it shows (render only: no I/O, no decisions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from core.i18n import Texts
from core.tips.drafts import MAX_ATTACHMENTS, Draft
from handlers.common import when, where
from handlers.engine.channel import Button, Keyboard, button, keyboard
from handlers.engine.keys import nav_row, shared
from handlers.engine.wizard import View
from handlers.report.state import CaseChoice, Talk

NAV, PICK, CONFIRM, ADDING = "n", "p", "ok", "a"
"""Button data: n:<step>:<action>, p:<step>:<value>, ok:<draft id>, a:done (/add, answers)."""

SUMMARY_TEXT = 1500
"""The description is cut to this in the summary, so the message stays far below 4096."""


def _case_label(choice: CaseChoice, texts: Texts) -> str:
    if choice.km is None:
        return f"{choice.name} ({choice.ref})"
    return texts("button.case_km", name=choice.name, ref=choice.ref, km=choice.km)


def _case(talk: Talk, texts: Texts) -> View:
    choices = [[button(_case_label(c, texts), PICK, "case", c.ref)] for c in talk.cases]
    return texts("report.ask_case"), keyboard(
        *choices,
        [button(texts("button.case_near"), PICK, "case", "near")],
        [button(texts("button.case_unknown"), PICK, "case", "unknown")],
        nav(texts, "case", back=False),
    )


def nav(texts: Texts, step: str, *, back: bool = True, skip: str | None = None) -> list[Button]:
    """Back, Skip and Cancel on a report step."""
    return nav_row(texts, NAV, step, back=back, skip=skip)


@shared
def _nav(texts: Texts, step: str, back: bool, skip: str | None) -> Keyboard:
    return keyboard(nav(texts, step, back=back, skip=skip))


@shared
def finish(texts: Texts) -> Keyboard:
    """Done with /add or an answer."""
    return keyboard([button(texts("button.done"), ADDING, "done")])


@shared
def _when_keys(texts: Texts) -> Keyboard:
    return when.keys(texts, PICK, nav)


@shared
def _contact_keys(texts: Texts) -> Keyboard:
    return keyboard(
        [button(texts("button.contact_no"), PICK, "contact", "no")],
        [button(texts("button.contact_yes"), PICK, "contact", "yes")],
        nav(texts, "contact"),
    )


def _what(talk: Talk, texts: Texts) -> View:
    draft = talk.draft or Draft()
    skip = "button.next" if draft.text or draft.attachments else "button.skip"
    return texts("report.ask_what"), _nav(texts, "what", talk.offer_cases, skip)


def _when(talk: Talk, texts: Texts) -> View:
    return texts("report.ask_when"), _when_keys(texts)


def _when_time(talk: Talk, texts: Texts) -> View:
    return texts("report.ask_time"), _nav(texts, "when", True, None)


def _when_day(talk: Talk, texts: Texts) -> View:
    return texts("report.ask_day"), _nav(texts, "when", True, None)


def _where(talk: Talk, texts: Texts) -> View:
    return texts("report.ask_where"), _nav(texts, "where", True, "button.skip")


def _where_pick(talk: Talk, texts: Texts) -> View:
    return where.pick_view(talk, texts, PICK, nav)


def _media(talk: Talk, texts: Texts) -> View:
    draft = talk.draft or Draft()
    text = texts("report.ask_media", limit=MAX_ATTACHMENTS)
    if draft.attachments and talk.album is None:  # an album's count is only known at its end
        count = texts("report.media_count", count=len(draft.attachments), limit=MAX_ATTACHMENTS)
        text = f"{text}\n\n{count}"
    skip = "button.done" if draft.attachments else "button.skip"
    return text, _nav(texts, "media", True, skip)


def _contact(talk: Talk, texts: Texts) -> View:
    return texts("report.ask_contact"), _contact_keys(texts)


def _confirm(talk: Talk, texts: Texts) -> View:
    draft = talk.draft or Draft()
    text = "\n\n".join([texts("summary.title"), summary(draft, talk, texts), texts("summary.ask")])
    send = [button(texts("button.send"), CONFIRM, draft.draft_id)]
    return text, keyboard(send, nav(texts, "confirm"))


VIEWS: dict[str, Callable[[Talk, Texts], View]] = {
    "case": _case,
    "what": _what,
    "when": _when,
    "when_time": _when_time,
    "when_day": _when_day,
    "where": _where,
    "where_pick": _where_pick,
    "media": _media,
    "contact": _contact,
    "confirm": _confirm,
}


def view(name: str, talk: Talk, texts: Texts) -> View:
    """The question of a step (or sub-step) and its buttons."""
    return VIEWS[name](talk, texts)


def _when_line(draft: Draft, texts: Texts) -> str:
    if draft.when == "now":
        return texts("summary.when_now")
    if draft.seen_at is None or draft.when not in ("today", "day"):
        return texts("summary.when_unknown")
    zone = draft.zone
    local = draft.seen_at.astimezone(zone or UTC)
    moment = local.strftime("%Y-%m-%d %H:%M" if draft.seen_time else "%Y-%m-%d")
    if zone is not None and draft.place is not None:
        return texts("summary.when_local", moment=moment, zone=draft.place.timezone)
    return texts("summary.when_utc", moment=moment)


def _where_line(draft: Draft, texts: Texts) -> str:
    place = draft.place
    if place is None:
        return texts("summary.where_none")
    if place.lat is not None and place.lon is not None and place.source != "typed":
        near = place.label or f"{place.lat:.4f}, {place.lon:.4f}"
        return texts("summary.where_point", place=place.text or near, near=near)
    return texts("summary.where", place=place.label or place.text or "")


def summary(draft: Draft, talk: Talk, texts: Texts) -> str:
    """The draft as the tipster will check it before sending."""
    what = draft.text
    if len(what) > SUMMARY_TEXT:
        what = what[:SUMMARY_TEXT] + "…"
    case = next((c for c in talk.cases if c.ref == draft.case_ref), None)
    lines = []
    if draft.case_ref:
        lines.append(
            texts("summary.case", case=f"{case.name} ({case.ref})" if case else draft.case_ref)
        )
    elif draft.case_unknown:
        lines.append(texts("summary.case_unknown"))
    lines.append(texts("summary.what", text=what) if what else texts("summary.what_none"))
    lines.append(_when_line(draft, texts))
    lines.append(_where_line(draft, texts))
    lines.append(texts("summary.files", count=len(draft.attachments)))
    lines.append(texts("summary.contact_yes" if draft.contact_allowed else "summary.contact_no"))
    return "\n".join(lines)
