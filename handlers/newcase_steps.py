"""What the family sends during /newcase: typed answers, a place, a contact, photos."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aiogram.filters import Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, TelegramObject

from core.case_contacts import from_card
from core.case_registry import LIMITS, MAX_PHOTOS
from core.i18n import Texts
from core.places import place_label, resolve_typed
from handlers.context import BotServices
from handlers.media import attachment_of
from handlers.newcase_draft import (
    AGE_NOTE_LIMIT,
    CasePhotoRef,
    CaseTalk,
    check_text,
    read_born,
    split_languages,
)
from handlers.newcase_turn import CaseTurn
from handlers.report_steps import place_of

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
WHEN_PROBLEMS = {
    "unreadable": "report.when_unreadable",
    "future": "report.when_future",
    "need_date": "report.when_need_date",
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


class NotCommand(Filter):
    """Anything but a /command (those go on to their own handlers, /newcase keeps its place)."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True unless the message starts with a bot command."""
        if not isinstance(event, Message):
            return False
        entities = event.entities or []
        return not any(e.type == "bot_command" and e.offset == 0 for e in entities)


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


def _take_when(talk: CaseTalk, text: str, texts: Texts, *, need_date: bool) -> str | None:
    outcome = talk.seen.set_seen_from_text(text, now=_now(), need_date=need_date)
    return None if outcome == "ok" else texts(WHEN_PROBLEMS[outcome], text=text[:50])


Taker = Callable[[CaseTalk, str, Texts], "str | None"]
TAKERS: dict[str, Taker] = {
    "born": _take_born,
    "languages": _take_languages,
    "when": lambda talk, text, texts: _take_when(talk, text, texts, need_date=False),
    "when_time": lambda talk, text, texts: _take_when(talk, text, texts, need_date=False),
    "when_day": lambda talk, text, texts: _take_when(talk, text, texts, need_date=True),
}


async def _where_text(turn: CaseTurn, text: str, services: BotServices) -> None:
    found = await resolve_typed(services.geocoder, text)
    talk = turn.case
    if found.best is not None and not found.ambiguous:
        talk.seen.set_place(found.best, now=_now())
        shown = place_label(found.best, turn.texts.language)
        await turn.ask_after("where", note=turn.texts("note.place_saved", place=shown))
        return
    talk.places, talk.typed_place = list(found.choices), found.typed
    await turn.ask("where_pick")


async def on_text(message: Message, state: FSMContext, texts: Texts, services: BotServices) -> None:
    """A typed answer to the step on screen; a problem is explained and the step asked again."""
    turn = await CaseTurn.of(message, state, texts)
    name, text = await turn.current() or "kind", message.text or ""
    if turn.talk is None:
        await turn.finish(texts("newcase.expired"))
        return
    if name in ("where", "where_pick"):
        await _where_text(turn, text, services)
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
        turn.case.seal_contact(services.vault)  # a typed contact is sealed before it is stored
        await turn.ask_after(name)


async def on_place(
    message: Message, state: FSMContext, texts: Texts, services: BotServices
) -> None:
    """A pin or venue on the last-seen step."""
    turn = await CaseTurn.of(message, state, texts)
    if turn.talk is None:
        await turn.finish(texts("newcase.expired"))
        return
    place = await place_of(message, services)
    turn.case.seen.set_place(place, now=_now())
    shown = place_label(place, texts.language) or place.text or texts("summary.pin")
    await turn.ask_after("where", note=texts("note.place_saved", place=shown))


async def on_contact(
    message: Message, state: FSMContext, texts: Texts, services: BotServices
) -> None:
    """A shared contact card is the family's private contact (sealed at once, never public)."""
    turn = await CaseTurn.of(message, state, texts)
    card = message.contact
    if turn.talk is None or card is None:
        await turn.finish(texts("newcase.expired"))
        return
    text = from_card(first_name=card.first_name, last_name=card.last_name, phone=card.phone_number)
    turn.case.contact = text[: LIMITS["contact"]]
    turn.case.seal_contact(services.vault)
    await turn.ask_after("contact")


def _photo_of(message: Message) -> CasePhotoRef | str:
    found = attachment_of(message)
    if isinstance(found, str):
        return found
    if found.kind not in PHOTO_KINDS or not (found.mime_type or "").startswith("image/"):
        return "newcase.photo_only"
    file_id = found.source_ref.removeprefix("telegram:")
    note = (message.caption or "").strip()[:AGE_NOTE_LIMIT]
    return CasePhotoRef(source_ref=f"tg:{file_id}", unique_id=found.unique_id, age_note=note)


async def on_photo(message: Message, state: FSMContext, texts: Texts) -> None:
    """A photo (or an album of them) on the photo step; one answer per album."""
    turn = await CaseTurn.of(message, state, texts)
    photo = _photo_of(message)
    if turn.talk is None:
        await turn.finish(texts("newcase.expired"))
        return
    if isinstance(photo, str):
        await turn.stay(note=texts(photo))
        return
    talk, album = turn.case, message.media_group_id
    added = talk.add_photo(photo)
    if album and talk.album == album:
        await turn.keep()  # the rest of an album: answered once, at its first photo
        return
    talk.album = album
    key = "newcase.album_saved" if album else "newcase.photo_saved"
    note = texts(key if added else "newcase.photos_full", count=len(talk.photos), limit=MAX_PHOTOS)
    await turn.stay(note=note)


async def on_other(message: Message, state: FSMContext, texts: Texts) -> None:
    """Stickers, voice notes, a photo before the photo step: say so and ask the step again."""
    turn = await CaseTurn.of(message, state, texts)
    if turn.talk is None:
        await turn.finish(texts("newcase.expired"))
        return
    media = any(f is not None for f in (message.photo, message.video, message.document))
    await turn.stay(note=texts("newcase.photos_later" if media else "newcase.bad_input"))
