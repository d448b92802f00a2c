"""A small client of the WhatsApp Cloud (Graph) API: send, upload media, download media."""

from __future__ import annotations

from typing import Any

import aiohttp

MAX_MEDIA = 20 * 1024 * 1024  # what we download from a person (Telegram bots get 20 MB too)


class GraphError(Exception):
    """Meta refused a request: HTTP status, Graph error code and message."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"{status} (code {code}): {message}")


class MediaError(Exception):
    """A person's media could not be fetched; `reason` is a code the flow can explain."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class GraphClient:
    """One business phone number's calls, with its token (never logged)."""

    def __init__(
        self, http: aiohttp.ClientSession | None, *, base: str, token: str, phone_number_id: str
    ) -> None:
        """`http`: None makes one at the first call (a worker's client lives as long as it)."""
        self._client = http
        self.base = base.rstrip("/")
        self.phone_number_id = phone_number_id
        self._auth = {"Authorization": f"Bearer {token}"}

    @property
    def http(self) -> aiohttp.ClientSession:
        """The HTTP client (made in the running event loop when none was given)."""
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._client

    async def send(self, body: dict[str, Any]) -> str:
        """POST /{phone-number-id}/messages; the new message's id (wamid)."""
        url = f"{self.base}/{self.phone_number_id}/messages"
        async with self.http.post(url, json=body, headers=self._auth) as response:
            answer = await _json(response)
        messages = answer.get("messages")
        if not isinstance(messages, list) or not messages or "id" not in messages[0]:
            raise GraphError(response.status, None, "no message id in the answer")
        return str(messages[0]["id"])

    async def upload(self, data: bytes, mime: str) -> str:
        """POST /{phone-number-id}/media (our own clean copy); its media id."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", data, filename="photo.jpg", content_type=mime)
        url = f"{self.base}/{self.phone_number_id}/media"
        async with self.http.post(url, data=form, headers=self._auth) as response:
            answer = await _json(response)
        return str(answer["id"])

    async def download(self, media_id: str, *, limit: int = MAX_MEDIA) -> tuple[bytes, str]:
        """A person's media: id -> URL -> bytes (both with the token); (bytes, MIME type).

        MediaError("too_large") past `limit` (read no further), ("gone") when Meta no longer
        has it, ("unavailable") for anything else.
        """
        try:
            async with self.http.get(f"{self.base}/{media_id}", headers=self._auth) as response:
                info = await _json(response)
            size = info.get("file_size")
            if isinstance(size, int) and size > limit:
                raise MediaError("too_large", f"{size} bytes")
            async with self.http.get(str(info["url"]), headers=self._auth) as response:
                if response.status == 404:
                    raise MediaError("gone")
                if response.status != 200:
                    raise MediaError("unavailable", f"HTTP {response.status}")
                data = await _read_at_most(response, limit)
        except GraphError as exc:
            raise MediaError("gone" if exc.status == 404 else "unavailable", str(exc)) from None
        except (aiohttp.ClientError, TimeoutError, KeyError) as exc:
            raise MediaError("unavailable", type(exc).__name__) from None
        return data, str(info.get("mime_type") or "")


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise MediaError("too_large", f"over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The answer's JSON; GraphError for an error answer."""
    try:
        answer = await response.json(content_type=None)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise GraphError(response.status, None, "the answer is not a JSON object")
    if response.status >= 400 or "error" in answer:
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        code = error.get("code")
        message = str(error.get("message") or "")
        raise GraphError(response.status, code if isinstance(code, int) else None, message)
    return answer
