"""What the fake Telegram remembers: chats and their messages, files, pending updates, calls."""

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram.limits import ApiError, RateLimiter, bad_request
from tests.fakes.telegram.updates import UpdateQueue

SUPERGROUP_ID_FLOOR = -1_000_000_000_000

_FOLDERS = {
    "photo": ("photos", ".jpg"),
    "document": ("documents", ""),
    "voice": ("voice", ".oga"),
    "sticker": ("stickers", ".webp"),
    "video": ("videos", ".mp4"),
    "audio": ("music", ".mp3"),
    "animation": ("animations", ".mp4"),
}


@dataclass
class UploadedFile:
    """One file part of a multipart request, as the bot sent it."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One Bot API request: method name as called, decoded params, file parts, outcome."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    time: float
    status: int = 200
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when Telegram would have answered ok."""
        return self.status == 200


@dataclass
class StoredFile:
    """A file Telegram knows: uploaded by the bot or sent by a user through a builder."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    size: int
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0

    def as_file(self) -> dict[str, Any]:
        """The File object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass
class Upload:
    """A file the bot uploaded, with the exact bytes, for asserting on what left the bot."""

    method: str
    chat_id: int
    field: str
    filename: str | None
    content_type: str | None
    data: bytes
    file_id: str
    time: float = field(default_factory=time.time)


class FileStore:
    """Files by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._seq = itertools.count(1)

    def add(
        self,
        data: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        """Register bytes as a new file; `size` may declare more than len(data)."""
        n = next(self._seq)
        folder, ext = _FOLDERS.get(kind, ("documents", ""))
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1][:8]
        stored = StoredFile(
            file_id=f"fake-{kind}-{n}",
            file_unique_id=f"uniq{n}",
            file_path=f"{folder}/file_{n}{ext}",
            data=data,
            size=len(data) if size is None else size,
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this file_id, if known."""
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """The file served at /file/bot<token>/<file_path>, if known."""
        return self._by_path.get(file_path)


class ChatStore:
    """Chats (type by id sign unless registered), their messages, and who cut the bot off."""

    def __init__(self) -> None:
        self._registered: dict[int, dict[str, Any]] = {}
        self._usernames: dict[str, int] = {}
        self._last_message_id: dict[int, int] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.deleted: set[int] = set()

    def register(
        self,
        chat_id: int,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Declare a chat's type/title/username (e.g. a channel, or a private chat's name)."""
        chat = dict(self.chat(chat_id))
        if type:
            chat["type"] = type
        chat.update(
            {
                key: value
                for key, value in (
                    ("title", title),
                    ("username", username),
                    ("first_name", first_name),
                )
                if value
            }
        )
        if chat["type"] == "private":
            chat.pop("title", None)
            chat.setdefault("first_name", f"User {chat_id}")
        else:
            chat.pop("first_name", None)
            chat.setdefault("title", f"Chat {chat_id}")
        if username:
            self._usernames[username.lower().lstrip("@")] = chat_id
        self._registered[chat_id] = chat
        return chat

    def kind(self, chat_id: int) -> str:
        """private, group, supergroup or channel."""
        chat = self._registered.get(chat_id)
        if chat is not None:
            return str(chat["type"])
        if chat_id > 0:
            return "private"
        return "supergroup" if chat_id <= SUPERGROUP_ID_FLOOR else "group"

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The Chat object for chat_id."""
        chat = self._registered.get(chat_id)
        if chat is not None:
            return chat
        kind = self.kind(chat_id)
        if kind == "private":
            return {"id": chat_id, "type": kind, "first_name": f"User {chat_id}"}
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}

    def resolve(self, value: Any) -> int:
        """A chat_id parameter (int, numeric string or @username) as an int, or 400."""
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            found = self._usernames.get(text[1:].lower())
            if found is None:
                raise bad_request("chat not found")
            return found
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def ensure_reachable(self, chat_id: int) -> None:
        """Raise Telegram's answer when the chat is gone or the bot was cut off."""
        if chat_id in self.deleted:
            raise bad_request("chat not found")
        if chat_id in self.blocked:
            kind = self.kind(chat_id)
            if kind == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if kind == "channel":
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")

    def new_message(self, chat_id: int, content: dict[str, Any]) -> dict[str, Any]:
        """Create and store a message with the chat's next message_id."""
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        message = {"message_id": message_id, "date": int(time.time()), "chat": self.chat(chat_id)}
        message.update(content)
        self.messages[(chat_id, message_id)] = message
        return message

    def get(self, chat_id: int, message_id: Any) -> dict[str, Any] | None:
        """A stored message, if it exists."""
        try:
            return self.messages.get((chat_id, int(message_id)))
        except (TypeError, ValueError):
            return None


@dataclass
class WebhookConfig:
    """What setWebhook stored (Telegram keeps the secret_token; getWebhookInfo hides it)."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class FakeState:
    """Everything the Bot API methods read and change, shared by handlers and builders."""

    def __init__(self, bot_user: dict[str, Any], limiter: RateLimiter) -> None:
        self.bot_user = bot_user
        self.limiter = limiter
        self.chats = ChatStore()
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.uploads: list[Upload] = []
        self.sent: list[dict[str, Any]] = []
        self.callback_queries: dict[str, bool] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: WebhookConfig | None = None
        self.poll_ticket = 0
        self.closing = False
        self._media_groups = itertools.count(10_000_000_001)

    def new_media_group_id(self) -> str:
        """A fresh media_group_id (decimal text, as Telegram sends it)."""
        return str(next(self._media_groups))

    @property
    def bot_sender(self) -> dict[str, Any]:
        """The bot as the `from` of its own messages."""
        user = self.bot_user
        return {
            "id": user["id"],
            "is_bot": True,
            "first_name": user["first_name"],
            "username": user["username"],
        }

    def reset(self) -> None:
        """Forget chats' messages, files sent, pending updates, webhook, blocks; ids keep counting
        so a running bot never mistakes a new update or message for an old one."""
        self.chats.messages.clear()
        self.chats.blocked.clear()
        self.chats.deleted.clear()
        self.updates.clear()
        self.updates.allowed = None
        self.uploads.clear()
        self.sent.clear()
        self.callback_queries.clear()
        self.commands.clear()
        self.webhook = None
        self.updates.wake()
