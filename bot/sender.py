"""The Telegram sender: the only place that turns an outbox recipient into a chat id."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import Outcome, Outgoing
from core.identity.tipsters import NoIdentity, identity_of
from core.identity.vault import Vault, VaultKeyError
from storage.photostore import MediaStore, PhotoCorruptError, PhotoNotFoundError

log = logging.getLogger("tipline.outbox")
FILE_ID_CACHE = 1024  # photos whose Telegram file id we keep (oldest forgotten first)

# Telegram's answers, by aiogram exception: retrying the same request cannot help with these.
_PERMANENT: tuple[tuple[type[TelegramAPIError], str], ...] = (
    (TelegramForbiddenError, "403"),
    (TelegramBadRequest, "400"),
    (TelegramEntityTooLarge, "413"),
)
# A wrong token or URL (401/404/409) is our configuration, not the message: retried, then dead.
_TRANSIENT: tuple[tuple[type[TelegramAPIError], str], ...] = (
    (TelegramServerError, "5xx"),
    (TelegramNetworkError, "network"),
    (TelegramUnauthorizedError, "401"),
    (TelegramNotFound, "404"),
    (TelegramConflictError, "409"),
)


class Unreachable(Exception):
    """The recipient cannot be turned into a chat (no identity, no Telegram chat, bad form)."""


class TelegramSender:
    """Sends outbox payloads with aiogram and maps Telegram's answers to outcomes."""

    def __init__(
        self,
        *,
        bot: Bot,
        vault: Vault,
        sessions: async_sessionmaker[AsyncSession],
        display_store: MediaStore,
        request_timeout: int | None = None,
    ) -> None:
        self.bot = bot
        self.vault = vault
        self.sessions = sessions
        self.display_store = display_store
        self.request_timeout = request_timeout
        self._file_ids: dict[str, str] = {}  # display copy sha256 -> Telegram file id
        self._uploading: dict[str, asyncio.Lock] = {}

    async def send(self, message: Outgoing) -> Outcome:
        """Resolve the recipient, send the payload, say how it went."""
        try:
            chat_id = await self.chat_id(message.recipient)
            await self._call(chat_id, message.payload)
        except Unreachable as exc:
            return Outcome.permanent(f"unreachable: {exc}")
        except VaultKeyError:
            return Outcome.transient("vault: the identity does not open with this key")
        except (PhotoNotFoundError, PhotoCorruptError):
            return Outcome.permanent("the display copy of the photo is missing or damaged")
        except (TelegramAPIError, ClientDecodeError) as exc:
            return self.outcome_of(exc)
        return Outcome.sent()

    async def chat_id(self, recipient: str) -> int:
        """The chat behind a recipient (a tipster's comes from the vault, at send time only)."""
        try:
            _, number, record = await identity_of(self.sessions, self.vault, recipient)
        except NoIdentity as exc:
            raise Unreachable(str(exc)) from None
        if record is None:
            return number
        chat_id = record.get("chat_id")
        if not isinstance(chat_id, int):
            raise Unreachable("the tipster has no Telegram chat")
        return chat_id

    async def _call(self, chat_id: int, payload: dict[str, Any]) -> None:
        common: dict[str, Any] = {
            "chat_id": chat_id,
            "protect_content": bool(payload.get("protect_content")),
            "reply_markup": _keyboard(payload.get("buttons")),
            "request_timeout": self.request_timeout,
        }
        method = payload.get("method")
        if method == "sendMessage":
            await self.bot.send_message(text=payload["text"], **common)
        elif method == "sendPhoto":
            await self._send_photo(payload["display_sha256"], payload.get("caption"), common)
        else:
            raise Unreachable(f"unknown payload method {method!r}")

    async def _send_photo(self, sha: str, caption: str | None, common: dict[str, Any]) -> None:
        """Upload our display copy once; later sends of the same photo (an alert to thousands
        of volunteers) reuse Telegram's file id instead of uploading the bytes again. Sends
        that start while the first upload is under way wait for its file id."""
        if sha not in self._file_ids:
            lock = self._uploading.setdefault(sha, asyncio.Lock())
            async with lock:
                if sha not in self._file_ids:
                    await self._upload_photo(sha, caption, common)
                    return
        cached = self._file_ids.get(sha)
        if cached is not None:
            try:
                await self.bot.send_photo(photo=cached, caption=caption or None, **common)
                return
            except TelegramBadRequest:
                self._file_ids.pop(sha, None)  # an expired or foreign file id: upload again
        await self._upload_photo(sha, caption, common)

    async def _upload_photo(self, sha: str, caption: str | None, common: dict[str, Any]) -> None:
        data = await asyncio.to_thread(self.display_store.get, sha)
        photo = BufferedInputFile(data, filename="photo.jpg")
        sent = await self.bot.send_photo(photo=photo, caption=caption or None, **common)
        if sent.photo:
            if len(self._file_ids) >= FILE_ID_CACHE:
                self._file_ids.pop(next(iter(self._file_ids)))
            self._file_ids[sha] = sent.photo[-1].file_id
            self._uploading.pop(sha, None)

    def outcome_of(self, exc: TelegramAPIError | ClientDecodeError) -> Outcome:
        """Map an aiogram exception to the relay's outcome (never echoing chat ids or the token)."""
        if isinstance(exc, TelegramRetryAfter):
            return Outcome.flood(float(exc.retry_after))
        if isinstance(exc, TelegramMigrateToChat):
            return Outcome.permanent(f"400 the group is now supergroup {exc.migrate_to_chat_id}")
        if isinstance(exc, ClientDecodeError):
            return Outcome.transient("undecodable answer from Telegram")
        for kinds, label in _PERMANENT:
            if isinstance(exc, kinds):
                return Outcome.permanent(f"{label} {self._scrub(exc.message)}")
        for kinds, label in _TRANSIENT:
            if isinstance(exc, kinds):
                return Outcome.transient(f"{label} {self._scrub(exc.message)}")
        return Outcome.transient(f"{type(exc).__name__} {self._scrub(exc.message)}")

    def _scrub(self, text: str) -> str:
        return text.replace(self.bot.token, "<token>")[:500]


def _keyboard(rows: Any) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
            for row in rows
        ]
    )
