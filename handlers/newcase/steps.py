"""What the family sends during /newcase: typed answers, a place, a contact, photos."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from core.cases.answers import check_text, read_born, split_languages
from core.cases.registry import LIMITS, MAX_PHOTOS
from core.geo import GeocodingService
from core.i18n import Texts
from core.identity.vault import Vault
from core.tips.drafts import Attachment
from handlers.common import when, where
from handlers.engine.channel import Point
from handlers.newcase.flow import CaseTurn
from handlers.newcase.state import AGE_NOTE_LIMIT, CasePhotoRef, CaseTalk

TEXT_PROBLEMS = {
    "too_long": "newcase.too_long",
    "empty": "newcase.empty",
    "no_letters": "newcase.name_no_letters",
}
BORN_PROBLEMS = {
    "unreadable": "newcase.born_unreadable",
    "impossible": "newcase.born_impossible",
    "future": "newcase.born_future",
    "too_old": "newcase.born_too_old",
}
# Free-text steps: the column (for its length limit) each typed answer goes into.
FIELDS = {
    "name": "full_name",
    "nicknames": "nicknames",
    "marks": "marks",
    "circumstances": "circumstances",
    "police": "police_ref",
    "contact": "contact",
}
PHOTO_KINDS = ("photo", "document")


def _now() -> datetime:
    return datetime.now(UTC)


def _take_field(talk: CaseTalk, name: str, text: str, texts: Texts) -> str | None:
    field = FIELDS[name]
    outcome = check_text(text, field, name=name == "name")
    if outcome != "ok":
        return texts(TEXT_PROBLEMS[outcome], limit=LIMITS[field])
    setattr(talk, "police_ref" if name == "police" else field, text.strip())
    return None


def _take_born(talk: CaseTalk, text: str, texts: Texts) -> str | None:
    outcome, born, age = read_born(text, today=_now().date())
    if outcome != "ok":
        return texts(BORN_PROBLEMS[outcome], text=text[:40])
    talk.birth_date, talk.age_years = born, age
    return None


def _take_languages(talk: CaseTalk, text: str, texts: Texts) -> str | None:
    languages, dialect = split_languages(text)
    if len(languages) > LIMITS["languages"] or len(dialect) > LIMITS["dialect"]:
        return texts("newcase.too_long", limit=LIMITS["languages"])
    talk.languages, talk.dialect = languages, dialect
    return None


Taker = Callable[[CaseTalk, str, Texts], "str | None"]
TAKERS: dict[str, Taker] = {
    "born": _take_born,
    "languages": _take_languages,
}


async def on_text(turn: CaseTurn, text: str, geocoder: GeocodingService, vault: Vault) -> None:
    """A typed answer to the step on screen; a problem is explained and the step asked again."""
    name, texts = turn.current or "kind", turn.texts
    if name in ("where", "where_pick"):
        await where.typed(turn, turn.case, turn.case.seen, text, geocoder)
        return
    if name in ("when", "when_time", "when_day"):
        await when.typed(turn, turn.case.seen, text)
        return
    if name in FIELDS:
        problem = _take_field(turn.case, name, text, texts)
    elif name in TAKERS:
        problem = TAKERS[name](turn.case, text, texts)
    else:
        problem = texts("newcase.use_buttons")
    if problem is not None:
        await turn.stay(note=problem)
    else:
        turn.case.seal_contact(vault)  # a typed contact is sealed before it is stored
        await turn.onward(name)


async def on_place(turn: CaseTurn, point: Point, geocoder: GeocodingService) -> None:
    """A pin or venue on the last-seen step."""
    place = await where.place_of(point, geocoder)
    turn.case.seen.set_place(place, now=_now())
    await turn.onward("where", note=where.saved_note(turn.texts, place))


async def on_contact(turn: CaseTurn, card: str, vault: Vault) -> None:
    """A shared contact card is the family's private contact (sealed at once, never public)."""
    turn.case.contact = card[: LIMITS["contact"]]
    turn.case.seal_contact(vault)
    await turn.onward("contact")


def photo_of(found: Attachment | str, caption: str) -> CasePhotoRef | str:
    """A file as a case photo, or the text key saying why it cannot be one."""
    if isinstance(found, str):
        return found
    if found.kind not in PHOTO_KINDS or not (found.mime_type or "").startswith("image/"):
        return "newcase.photo_only"
    ref = found.source_ref
    if ref.startswith("telegram:"):  # case photos name Telegram files more briefly
        ref = "tg:" + ref.removeprefix("telegram:")
    note = caption.strip()[:AGE_NOTE_LIMIT]
    return CasePhotoRef(source_ref=ref, unique_id=found.unique_id, age_note=note)


async def on_photo(turn: CaseTurn, photo: CasePhotoRef | str, album: str | None) -> None:
    """A photo (or an album of them) on the photo step; one answer per album."""
    if isinstance(photo, str):
        await turn.refuse(photo)
        return
    talk = turn.case
    added = talk.add_photo(photo)
    if album and talk.album == album:
        return  # the rest of an album: answered once, at its first photo
    talk.album = album
    key = "newcase.album_saved" if album else "newcase.photo_saved"
    texts = turn.texts
    note = texts(key if added else "newcase.photos_full", count=len(talk.photos), limit=MAX_PHOTOS)
    await turn.stay(note=note)
