"""A small client of a Twilio-compatible Messages API: one account, one sending number."""

from __future__ import annotations

import base64

import aiohttp

DEFAULT_RETRY_AFTER = 1.0


class SmsApiError(Exception):
    """The provider refused a send: HTTP status, its error code and message, and how long it
    asked us to wait (Retry-After), if it did."""

    def __init__(
        self, status: int, code: int | None, message: str, retry_after: float | None = None
    ) -> None:
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after
        super().__init__(f"{status} (code {code}): {message}")


class SmsClient:
    """POST {base}/2010-04-01/Accounts/{sid}/Messages.json with basic auth (the SID and the
    auth token, never logged)."""

    def __init__(
        self,
        http: aiohttp.ClientSession | None,
        *,
        base: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback: str | None = None,
    ) -> None:
        """`http`: None makes one at the first call (a worker's client lives as long as it);
        `status_callback`: where the provider posts delivery statuses (None: it does not)."""
        self._client = http
        self.status_callback = status_callback
        self.url = f"{base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = {"Authorization": basic_auth(account_sid, auth_token)}
        self.sender = sender

    @property
    def http(self) -> aiohttp.ClientSession:
        """The HTTP client (made in the running event loop when none was given)."""
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._client

    async def send(self, to: str, body: str) -> str:
        """Send one text; the new message's SID."""
        form = {"To": to, "From": self.sender, "Body": body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        async with self.http.post(self.url, data=form, headers=self._auth) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                answer = {}
            if response.status >= 400:
                raise _error(response.status, answer, response.headers.get("Retry-After"))
        sid = answer.get("sid")
        if not isinstance(sid, str) or not sid:
            raise SmsApiError(response.status, None, "no message sid in the answer")
        return sid


def basic_auth(login: str, password: str) -> str:
    """An HTTP Basic Authorization value (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def _error(status: int, answer: dict[str, object], retry_after: str | None) -> SmsApiError:
    code = answer.get("code")
    wait = None
    if retry_after is not None:
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:
            wait = DEFAULT_RETRY_AFTER
    return SmsApiError(
        status, code if isinstance(code, int) else None, str(answer.get("message") or ""), wait
    )
