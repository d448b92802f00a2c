"""Telling a person something: the payload their channel reads, queued in the outbox.

Tipsters, family members and volunteers are all tipsters (`tipster:<id>`). `tipsters.channel`,
set when they first wrote, says where they are reached, so a moderator's decision picks the
payload without opening the vault (the number or chat id is opened by the sender, at send
time). A `Notice` is what to say, in the person's language: text, buttons as rows of
(label, data), our clean photo, protection, and the WhatsApp template for outside the 24-hour
window. Button data is the same string on every channel (a WhatsApp reply id carries it back),
at most 64 bytes. `PAYLOADS` maps a channel to the outbox payloads that say it there (SMS:
one plain text with numbered choices, which `remember_menu` keeps as the person's menu, whether
it was queued by `tell` or in bulk).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.outbox import enqueue, telegram_photo, telegram_text, tipster_recipient
from core.i18n import Texts
from core.sms import payloads as sms
from core.sms.menus import remember
from core.sms.render import Menu, render
from core.whatsapp import payloads as whatsapp
from storage.models import Tipster

log = logging.getLogger("tipline.outbox")
TELEGRAM, WHATSAPP, SMS = "telegram", "whatsapp", "sms"
PHOTO = ":photo"  # the key suffix of a photo sent ahead of a WhatsApp list
Buttons = Sequence[Sequence[tuple[str, str]]]
# (suffix of the idempotency key, payload): most notices are one message on every channel.
Part = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Template:
    """A WhatsApp template (core.whatsapp.payloads.TEMPLATES) and its body parameters."""

    name: str
    parameters: tuple[str, ...]

    @classmethod
    def of(cls, name: str, *parameters: str) -> Template:
        """Parameters made one line each, cut to Meta's 1,024 characters; an empty one is a
        dash (Meta refuses empty parameters)."""
        return cls(name, tuple(_one_line(p, whatsapp.CAPTION_LIMIT) or "-" for p in parameters))


@dataclass(frozen=True, slots=True)
class Notice:
    """What to tell a person, in their language, whatever their channel."""

    text: str
    language: str
    buttons: Buttons = ()
    photo: str | None = None  # the SHA-256 of our display copy
    protect: bool = False
    template: Template | None = None


def notice_of(text: str, language: str, *, buttons: Buttons = (), protect: bool = False) -> Notice:
    """A notice whose template outside WhatsApp's window is the tipster notice with the text
    (every message to a person but family leads and area alerts)."""
    template = Template.of(whatsapp.TIPSTER_NOTICE, text)
    return Notice(text, language, buttons=buttons, protect=protect, template=template)


def telegram_parts(notice: Notice) -> list[Part]:
    """One sendMessage, or sendPhoto with the text as its caption."""
    rows, protect = [list(row) for row in notice.buttons] or None, notice.protect
    if notice.photo:
        return [("", telegram_photo(notice.photo, notice.text, buttons=rows, protect=protect))]
    return [("", telegram_text(notice.text, buttons=rows, protect=protect))]


def whatsapp_parts(notice: Notice) -> list[Part]:
    """Free-form and template: up to 3 buttons are reply buttons (under the photo, if any),
    up to 10 a list (a list takes no photo: the photo goes first, on its own)."""
    choices = [(data, label) for row in notice.buttons for label, data in row]
    fallback = None
    if notice.template is not None:
        template = notice.template
        fallback = whatsapp.template(template.name, notice.language, list(template.parameters))
    body = _cut(notice.text, whatsapp.INTERACTIVE_LIMIT)
    if len(choices) > whatsapp.MAX_BUTTONS:
        label = Texts(notice.language)("delivery.choose")
        listed = whatsapp.message(whatsapp.choice_list(body, label, choices), fallback)
        if notice.photo is None:
            return [("", listed)]
        return [(PHOTO, whatsapp.message(whatsapp.image(notice.photo))), ("", listed)]
    if choices:
        free = whatsapp.buttons(body, choices, image=notice.photo)
    elif notice.photo:
        free = whatsapp.image(notice.photo, _cut(notice.text, whatsapp.CAPTION_LIMIT))
    else:
        free = whatsapp.text(notice.text)
    return [("", whatsapp.message(free, fallback))]


def sms_menu(notice: Notice) -> Menu:
    """The notice as one text with numbered choices (SMS carries no photo)."""
    return render(Texts(notice.language), notice.text, notice.buttons)


def sms_parts(notice: Notice) -> list[Part]:
    """One text; its numbers become the person's menu when it is queued (`remember_menu`)."""
    return [("", sms.text(sms_menu(notice).body))]


PAYLOADS: dict[str, Callable[[Notice], list[Part]]] = {
    TELEGRAM: telegram_parts,
    WHATSAPP: whatsapp_parts,
    SMS: sms_parts,
}


async def channels_of(session: AsyncSession, tipster_ids: Iterable[int]) -> dict[int, str]:
    """The channel each of these tipsters is reached on (one query)."""
    ids = sorted(set(tipster_ids))
    if not ids:
        return {}
    stmt = select(Tipster.id, Tipster.channel).where(Tipster.id.in_(ids))
    return {row.id: row.channel for row in (await session.execute(stmt)).all()}


def outbox_parts(channel: str, notice: Notice, *, key: str) -> list[tuple[str, dict[str, Any]]]:
    """(idempotency key, payload) of each outbox row that tells `notice` on `channel`; none
    for a channel Tipline cannot send on."""
    build = PAYLOADS.get(channel)
    if build is None:
        log.warning("no payloads for channel %r: a notice was not queued", channel)
        return []
    return [(key + suffix, payload) for suffix, payload in build(notice)]


async def tell(session: AsyncSession, *, tipster_id: int, notice: Notice, key: str) -> bool:
    """Queue `notice` to a tipster on their channel, in the caller's transaction (never
    commits); False when it was queued before (the same key) or cannot go."""
    channel = (await channels_of(session, [tipster_id])).get(tipster_id, TELEGRAM)
    added = False
    for part_key, payload in outbox_parts(channel, notice, key=key):
        recipient = tipster_recipient(tipster_id)
        sent = await enqueue(
            session, channel=channel, recipient=recipient, payload=payload, key=part_key
        )
        added = sent or added
    if added:
        await remember_menu(session, tipster_id=tipster_id, channel=channel, notice=notice)
    return added


async def remember_menu(
    session: AsyncSession, *, tipster_id: int, channel: str, notice: Notice
) -> None:
    """On SMS, keep a queued notice's numbered choices as the person's menu, so that a reply
    "1" means its first button; never commits."""
    if channel == SMS and notice.buttons:
        await remember(session, tipster_id, sms_menu(notice).choices)


def _one_line(value: str, limit: int) -> str:
    return _cut(" ".join(value.split()), limit)


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
