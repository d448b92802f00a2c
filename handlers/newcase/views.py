"""What each /newcase step says and which buttons it shows (render only: no I/O, no decisions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from core.cases.registry import MAX_PHOTOS
from core.i18n import Texts
from handlers.common import when, where
from handlers.common.when import SUB_STEPS
from handlers.engine.channel import Button, button, keyboard
from handlers.engine.keys import nav_row
from handlers.engine.wizard import View
from handlers.newcase.state import CaseTalk

NAV, PICK, SUBMIT = "cn", "cp", "cs"
"""Button data prefixes: cn:<step>:<action>, cp:<step>:<value>, cs:<draft id>."""

SUMMARY_TEXT = 600
"""Long answers are cut to this in the summary, so it stays far below Telegram's 4096."""
STEPS = (
    "kind",
    "name",
    "nicknames",
    "sex",
    "born",
    "marks",
    "languages",
    "when",
    "where",
    "circumstances",
    "police",
    "contact",
    "photos",
    "confirm",
)
PARENT = SUB_STEPS
# The skip button of each optional step (the name, contact and summary cannot be skipped).
SKIP = {
    "nicknames": "button.skip",
    "sex": "button.skip",
    "born": "button.skip",
    "marks": "button.skip",
    "languages": "button.skip",
    "when": "button.when_unknown",
    "where": "button.skip",
    "circumstances": "button.skip",
    "police": "newcase.button.no_police",
}
# Questions worded for a missing child, or for a found person looking for their family.
ASK = {
    "name": ("newcase.ask_name", "newcase.ask_name_found"),
    "nicknames": ("newcase.ask_nicknames", "newcase.ask_nicknames"),
    "born": ("newcase.ask_born", "newcase.ask_born_found"),
    "marks": ("newcase.ask_marks", "newcase.ask_marks"),
    "languages": ("newcase.ask_languages", "newcase.ask_languages"),
    "when": ("newcase.ask_when", "newcase.ask_when_found"),
    "when_time": ("newcase.ask_time", "newcase.ask_time"),
    "when_day": ("newcase.ask_day", "newcase.ask_day"),
    "where": ("newcase.ask_where", "newcase.ask_where_found"),
    "circumstances": ("newcase.ask_circumstances", "newcase.ask_circumstances_found"),
    "police": ("newcase.ask_police", "newcase.ask_police"),
    "contact": ("newcase.ask_contact", "newcase.ask_contact_found"),
}


def nav(texts: Texts, step: str, *, back: bool = True, skip: str | None = None) -> list[Button]:
    """Back, Skip (with its label key) and Cancel."""
    return nav_row(texts, NAV, step, back=back, skip=skip)


def _pick(texts: Texts, step: str, *choices: tuple[str, str]) -> list[Button]:
    return [button(texts(label), PICK, step, value) for label, value in choices]


def _question(name: str, talk: CaseTalk, texts: Texts) -> str:
    missing, found = ASK[name]
    return texts(found if talk.kind == "found" else missing)


def _kind(talk: CaseTalk, texts: Texts) -> View:
    text = f"{texts('newcase.intro')}\n\n{texts('newcase.ask_kind')}"
    return text, keyboard(
        _pick(texts, "kind", ("newcase.button.missing", "missing")),
        _pick(texts, "kind", ("newcase.button.found", "found")),
        nav(texts, "kind", back=False),
    )


def _sex(talk: CaseTalk, texts: Texts) -> View:
    return texts("newcase.ask_sex"), keyboard(
        _pick(texts, "sex", ("newcase.button.female", "female"), ("newcase.button.male", "male")),
        nav(texts, "sex", skip=SKIP["sex"]),
    )


def _when(talk: CaseTalk, texts: Texts) -> View:
    return _question("when", talk, texts), when.keys(texts, PICK, nav)


def _where_pick(talk: CaseTalk, texts: Texts) -> View:
    return where.pick_view(talk, texts, PICK, nav)


def _photos(talk: CaseTalk, texts: Texts) -> View:
    text = texts("newcase.ask_photos", limit=MAX_PHOTOS)
    if talk.photos and talk.album is None:  # an album's count is only known at its end
        count = texts("newcase.photo_count", count=len(talk.photos), limit=MAX_PHOTOS)
        text = f"{text}\n\n{count}"
    label = "button.done" if talk.photos else "newcase.button.no_photos"
    return text, keyboard(nav(texts, "photos", skip=label))


def _confirm(talk: CaseTalk, texts: Texts) -> View:
    text = "\n\n".join(
        [texts("newcase.summary_title"), summary(talk, texts), texts("newcase.ask_submit")]
    )
    submit = [button(texts("newcase.button.submit"), SUBMIT, talk.draft_id)]
    return text, keyboard(submit, nav(texts, "confirm"))


def _asked(name: str) -> Callable[[CaseTalk, Texts], View]:
    step = PARENT.get(name, name)

    def render(talk: CaseTalk, texts: Texts) -> View:
        return _question(name, talk, texts), keyboard(nav(texts, step, skip=SKIP.get(name)))

    return render


SPECIAL: dict[str, Callable[[CaseTalk, Texts], View]] = {
    "kind": _kind,
    "sex": _sex,
    "when": _when,
    "where_pick": _where_pick,
    "photos": _photos,
    "confirm": _confirm,
}
VIEWS = {name: SPECIAL.get(name) or _asked(name) for name in (*STEPS, *PARENT)}
"""The question of each step (or sub-step) and its buttons."""


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_TEXT else text[:SUMMARY_TEXT] + "…"


def _born_line(talk: CaseTalk, texts: Texts) -> str:
    if talk.birth_date is not None:
        return texts("newcase.summary.born", date=talk.birth_date.isoformat())
    if talk.age_years is not None:
        return texts("newcase.summary.age", age=talk.age_years)
    return texts("newcase.summary.born_none")


def _seen_line(talk: CaseTalk, texts: Texts) -> str:
    seen = talk.seen
    if seen.when == "now":
        return texts("newcase.summary.when_now")
    if seen.seen_at is None or seen.when not in ("today", "day"):
        return texts("newcase.summary.when_none")
    local = seen.seen_at.astimezone(seen.zone or UTC)
    moment = local.strftime("%Y-%m-%d %H:%M" if seen.seen_time else "%Y-%m-%d")
    zone = seen.place.timezone if seen.zone is not None and seen.place is not None else "UTC"
    return texts("newcase.summary.when", moment=moment, zone=zone)


def _where_line(talk: CaseTalk, texts: Texts) -> str:
    place = talk.seen.place
    if place is None:
        return texts("newcase.summary.where_none")
    shown = place.label or place.text or f"{place.lat:.4f}, {place.lon:.4f}"
    return texts("newcase.summary.where", place=shown)


def _optional(texts: Texts, key: str, value: str) -> str:
    return texts(key, value=_cut(value) if value else texts("newcase.summary.none"))


def summary(talk: CaseTalk, texts: Texts) -> str:
    """The case as the family will check it before submitting it."""
    sex = {"female": "newcase.button.female", "male": "newcase.button.male"}
    kind = "newcase.button.found" if talk.kind == "found" else "newcase.button.missing"
    police = talk.police_ref or texts("newcase.summary.police_none")
    lines = [
        texts("newcase.summary.kind", value=texts(kind)),
        texts("newcase.summary.name", value=_cut(talk.full_name)),
        _optional(texts, "newcase.summary.nicknames", talk.nicknames),
        _optional(texts, "newcase.summary.sex", texts(sex[talk.sex]) if talk.sex else ""),
        _born_line(talk, texts),
        _optional(texts, "newcase.summary.marks", talk.marks),
        _optional(
            texts,
            "newcase.summary.languages",
            "; ".join(part for part in (talk.languages, talk.dialect) if part),
        ),
        _seen_line(talk, texts),
        _where_line(talk, texts),
        _optional(texts, "newcase.summary.circumstances", talk.circumstances),
        texts("newcase.summary.police", value=_cut(police)),
        texts("newcase.summary.contact", value=_cut(talk.shown_contact())),
        texts("newcase.summary.photos", count=len(talk.photos)),
    ]
    return "\n".join(lines)
