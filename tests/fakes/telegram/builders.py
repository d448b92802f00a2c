"""Updates as Telegram sends them (plain dicts), for tests to push into the fake.

Each builder stores the message (so the bot can reply to, copy, forward or edit it) and registers
its files (so getFile and the download URL work); none of them queues the update: pass the result
to `push_update` (polling) or `deliver` (webhook).
"""

import itertools
import time
from typing import Any

from tests.fakes.telegram.media import FALLBACK_SIZE, document_object, image_size, photo_sizes
from tests.fakes.telegram.state import FakeState

DEFAULT_USER_ID = 100_001
Update = dict[str, Any]
User = int | dict[str, Any] | None


class UpdateBuilders:
    """Mixin for FakeTelegram: update builders over its state."""

    state: FakeState
    _callback_ids = itertools.count(1)

    def user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """A User object."""
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": is_bot,
            "first_name": first_name or f"User {user_id}",
        }
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in optional.items() if value})
        return user

    def _sender(self, chat_id: int, user: User, language_code: str | None) -> dict[str, Any]:
        if isinstance(user, dict):
            return user
        if user is None:
            user = chat_id if chat_id > 0 else DEFAULT_USER_ID
        return self.user(user, language_code=language_code)

    def _message(
        self, chat_id: int, content: dict[str, Any], *, user: User, language_code: str | None
    ) -> Update:
        """Store a message from a user (or a channel post) and wrap it in an update."""
        envelope: dict[str, Any] = {}
        if self.state.chats.kind(chat_id) == "channel":
            envelope["sender_chat"] = self.state.chats.chat(chat_id)
            kind = "channel_post"
        else:
            envelope["from"] = self._sender(chat_id, user, language_code)
            kind = "message"
        envelope.update(content)
        message = self.state.chats.new_message(chat_id, envelope)
        return {"update_id": self.state.updates.new_id(), kind: message}

    def text_message(
        self, chat_id: int, text: str, *, user: User = None, language_code: str | None = "en"
    ) -> Update:
        """A text message; a leading /command gets its bot_command entity, as Telegram adds."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/") and len(text) > 1:
            length = len(text.split(maxsplit=1)[0].encode("utf-16-le")) // 2
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._message(chat_id, content, user=user, language_code=language_code)

    def command(
        self,
        chat_id: int,
        command: str,
        payload: str | None = None,
        *,
        mention: bool = False,
        user: User = None,
        language_code: str | None = "en",
    ) -> Update:
        """`/command[@bot] [payload]`; command("start", "abc") is a deep link t.me/bot?start=abc."""
        text = "/" + command.lstrip("/")
        if mention:
            text += "@" + self.state.bot_user["username"]
        if payload:
            text += " " + payload
        return self.text_message(chat_id, text, user=user, language_code=language_code)

    def photo_message(
        self,
        chat_id: int,
        photo_bytes: bytes,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        user: User = None,
        language_code: str | None = "en",
    ) -> Update:
        """A photo; all sizes download `photo_bytes` unchanged (real Telegram re-encodes)."""
        size = image_size(photo_bytes) or FALLBACK_SIZE
        content: dict[str, Any] = {"photo": photo_sizes(self.state.files, photo_bytes, size)}
        return self._media(chat_id, content, caption, media_group_id, user, language_code)

    def document_message(
        self,
        chat_id: int,
        data: bytes = b"%PDF-1.4 fake document",
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        file_size: int | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        user: User = None,
        language_code: str | None = "en",
    ) -> Update:
        """A document; `file_size` may declare more than len(data) (e.g. > 20 MB for getFile)."""
        stored = self.state.files.add(
            data, kind="document", file_name=file_name, mime_type=mime_type, size=file_size
        )
        content: dict[str, Any] = {"document": document_object(stored)}
        return self._media(chat_id, content, caption, media_group_id, user, language_code)

    def _media(
        self,
        chat_id: int,
        content: dict[str, Any],
        caption: str | None,
        media_group_id: str | None,
        user: User,
        language_code: str | None,
    ) -> Update:
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = str(media_group_id)
        return self._message(chat_id, content, user=user, language_code=language_code)

    def location_message(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        *,
        live_period: int | None = None,
        horizontal_accuracy: float | None = None,
        user: User = None,
    ) -> Update:
        """A location pin, or a live location when live_period is given."""
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            location["live_period"] = live_period
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return self._message(chat_id, {"location": location}, user=user, language_code="en")

    def venue_message(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        user: User = None,
    ) -> Update:
        """A venue (Telegram sends the location alongside it)."""
        location = {"latitude": latitude, "longitude": longitude}
        venue = {"location": location, "title": title, "address": address}
        content = {"venue": venue, "location": location}
        return self._message(chat_id, content, user=user, language_code="en")

    def contact_message(
        self,
        chat_id: int,
        phone_number: str,
        first_name: str,
        *,
        last_name: str | None = None,
        contact_user_id: int | None = None,
        user: User = None,
    ) -> Update:
        """A shared contact; by default the sender's own (user_id = sender)."""
        sender = self._sender(chat_id, user, "en")
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name,
            "user_id": sender["id"] if contact_user_id is None else contact_user_id,
        }
        if last_name:
            contact["last_name"] = last_name
        return self._message(chat_id, {"contact": contact}, user=sender, language_code="en")

    def voice_message(
        self,
        chat_id: int,
        data: bytes = b"OggS fake voice",
        *,
        duration: int = 3,
        mime_type: str = "audio/ogg",
        user: User = None,
    ) -> Update:
        """A voice note."""
        stored = self.state.files.add(data, kind="voice", mime_type=mime_type)
        voice = {**document_object(stored), "duration": duration}
        return self._message(chat_id, {"voice": voice}, user=user, language_code="en")

    def sticker_message(self, chat_id: int, *, emoji: str = "👍", user: User = None) -> Update:
        """A static sticker."""
        stored = self.state.files.add(b"RIFF fake webp", kind="sticker", mime_type="image/webp")
        sticker = {
            **document_object(stored),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._message(chat_id, {"sticker": sticker}, user=user, language_code="en")

    def callback_query(
        self, chat_id: int, message_id: int, data: str, *, user: User = None
    ) -> Update:
        """A button press on message_id; answerCallbackQuery accepts its id once."""
        query_id = f"cbq-{next(self._callback_ids)}"
        self.state.callback_queries[query_id] = False
        message = self.state.chats.get(chat_id, message_id)
        if message is None:  # deleted or never stored: Telegram sends an InaccessibleMessage
            message = {"chat": self.state.chats.chat(chat_id), "message_id": message_id, "date": 0}
        query = {
            "id": query_id,
            "from": self._sender(chat_id, user, "en"),
            "chat_instance": str(abs(chat_id) * 7919 % 10**12),
            "data": data,
            "message": message,
        }
        return {"update_id": self.state.updates.new_id(), "callback_query": query}

    def edited_message(self, chat_id: int, message_id: int, text: str) -> Update:
        """A user's edit of their stored text message (edited_channel_post in channels)."""
        original = self.state.chats.get(chat_id, message_id)
        if original is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        edited = {**original, "text": text, "edit_date": original["date"] + 1}
        self.state.chats.messages[(chat_id, message_id)] = edited
        kind = "edited_channel_post" if "sender_chat" in original else "edited_message"
        return {"update_id": self.state.updates.new_id(), kind: edited}

    def channel_post(self, chat_id: int, text: str, *, title: str | None = None) -> Update:
        """A post in a channel (registers chat_id as a channel)."""
        self.state.chats.register(chat_id, type="channel", title=title)
        return self._message(chat_id, {"text": text}, user=None, language_code=None)

    def my_chat_member(
        self,
        chat_id: int,
        *,
        new_status: str = "kicked",
        old_status: str = "member",
        user: User = None,
    ) -> Update:
        """The bot's own membership changed; a private "kicked" is a user blocking the bot."""
        bot = self.state.bot_sender
        members = []
        for status in (old_status, new_status):
            member: dict[str, Any] = {"status": status, "user": bot}
            if status == "kicked":
                member["until_date"] = 0
            members.append(member)
        update = {
            "chat": self.state.chats.chat(chat_id),
            "from": self._sender(chat_id, user, "en"),
            "date": int(time.time()),
            "old_chat_member": members[0],
            "new_chat_member": members[1],
        }
        return {"update_id": self.state.updates.new_id(), "my_chat_member": update}

    def update_of_unknown_type(self, kind: str = "future_update", payload: Any = None) -> Update:
        """An update of a type this aiogram version does not know (Telegram adds them often)."""
        return {"update_id": self.state.updates.new_id(), kind: payload or {"id": 1}}
