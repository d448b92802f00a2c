"""The e-mail sender: police evidence packets and on-call pages over SMTP (aiosmtplib).

Recipients: `police:<id>` (a case's police recipient, looked up at send time, so a removed
one gets nothing) or `email:<address>` (on-call staff from settings). A packet e-mail carries
the packet JSON and a ZIP of it with the original files and display copies. Its Message-ID is
derived from the packet and the recipient, so a retry after a lost answer is recognisably the
same message. Unreachable or 4xx: retried; a 5xx refusal of the message: parked dead with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import Outcome, Outgoing
from core.delivery.packets import (
    DOCUMENT_NAME,
    FORMAT,
    VERSION,
    document_bytes,
    packet_zip,
    read_files,
    zip_name,
)
from core.delivery.webhook_targets import TargetRules
from core.i18n import Texts
from core.identity.vault import Vault
from moderation.forwarding.police import load_packet
from moderation.forwarding.police_recipients import resolve_recipient
from moderation.staff.invites import invite_mail
from storage.models import PoliceRecipient
from storage.photostore import PhotoStores

log = logging.getLogger("tipline.outbox")
_TEXTS = Texts("en")


class Unsendable(Exception):
    """The message cannot be composed (unknown payload, packet gone): retrying cannot help."""


def message_id(key: str, sender: str, *, installation: bytes) -> str:
    """A Message-ID that is the same for every attempt of one outbox row (lead and recipient)
    and differs between installations: keyed with this installation's secret, so two Tiplines
    sending from the same domain never make the same id (a mail system would drop one)."""
    domain = sender.rpartition("@")[2] or "tipline.invalid"
    digest = hmac.new(installation, key.encode(), hashlib.sha256).hexdigest()[:32]
    return f"<tipline.{digest}@{domain}>"


class EmailSender:
    """Sends `email` outbox rows through one SMTP server and maps its answers to outcomes."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        stores: PhotoStores,
        installation: bytes,
        host: str | None,
        port: int = 587,
        username: str | None = None,
        password: str | None = None,
        sender: str = "tipline@localhost",
        starttls: bool = True,
        timeout: float = 30.0,
        vault: Vault | None = None,
        rules: TargetRules | None = None,
    ) -> None:
        self.sessions = sessions
        self.stores = stores
        self.installation = installation
        self.rules = rules or TargetRules()
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.sender = sender
        self.starttls = starttls
        self.timeout = timeout
        self.vault = vault  # opens the sealed links of staff invitations

    async def send(self, message: Outgoing) -> Outcome:
        """Compose and hand the message to the SMTP server; say how it went."""
        if not self.host:
            return Outcome.permanent("no SMTP server configured (TIPLINE_SMTP_HOST)")
        address = await self._address(message.recipient)
        if isinstance(address, Outcome):
            return address
        try:
            email = await self.compose(message, address)
        except Unsendable as exc:
            return Outcome.permanent(str(exc))
        return await self._submit(email, address)

    async def _address(self, recipient: str) -> str | Outcome:
        if recipient.startswith("email:"):
            return recipient.removeprefix("email:")
        row = await resolve_recipient(self.sessions, recipient, kind="email")
        if not isinstance(row, PoliceRecipient):
            return row
        # The allow-list may have been set or narrowed since the recipient was approved.
        if not self.rules.allows_domain(row.address.rpartition("@")[2]):
            return Outcome.permanent("refused: the e-mail domain is not on TIPLINE_POLICE_DOMAINS")
        return row.address

    async def compose(self, message: Outgoing, address: str) -> EmailMessage:
        """The e-mail for an outbox row: a page, or a police packet with its attachments."""
        payload = message.payload
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = address
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id(message.key, self.sender, installation=self.installation)
        email["Auto-Submitted"] = "auto-generated"
        if payload.get("kind") == "page":
            email["Subject"] = str(payload.get("subject") or "Tipline page")
            email.set_content(str(payload.get("text") or ""))
            return email
        if payload.get("kind") == "staff_invite":
            await self._invite(email, payload)
            return email
        if payload.get("kind") == "police_packet":
            await self._packet(email, payload)
            return email
        raise Unsendable(f"unknown e-mail payload {payload.get('kind')!r}")

    async def _invite(self, email: EmailMessage, payload: dict[str, Any]) -> None:
        if self.vault is None:
            raise Unsendable("no vault to open the invitation link")
        async with self.sessions() as session:
            composed = await invite_mail(session, self.vault, payload)
        if composed is None:
            raise Unsendable("the invitation was used, revoked or expired before it was sent")
        email["Subject"], text = composed
        email.set_content(text)

    async def _packet(self, email: EmailMessage, payload: dict[str, Any]) -> None:
        document = await load_packet(self.sessions, int(payload.get("forward_id") or 0))
        if document is None:
            raise Unsendable("the forward and its packet no longer exist")
        files = await asyncio.to_thread(read_files, document, self.stores)
        archive = await asyncio.to_thread(packet_zip, document, files)
        case = (document.get("case") or {}).get("ref") or "-"
        tip = document["tip"]["ref"]
        key = "police.email_subject_urgent" if payload.get("urgent") else "police.email_subject"
        email["Subject"] = _TEXTS(key, case=case, tip=tip)
        email["X-Tipline-Packet"] = str(document["packet_id"])
        email.set_content(
            _TEXTS(
                "police.email_body",
                case=case,
                tip=tip,
                reason=(document.get("forward") or {}).get("reason", "promising"),
                document=DOCUMENT_NAME,
                format=FORMAT,
                version=VERSION,
                archive=zip_name(document),
                pseudonym=(document.get("tipster") or {}).get("pseudonym", "-"),
                packet=document["packet_id"],
            )
        )
        email.add_attachment(
            document_bytes(document), maintype="application", subtype="json", filename=DOCUMENT_NAME
        )
        email.add_attachment(
            archive, maintype="application", subtype="zip", filename=zip_name(document)
        )

    async def _submit(self, email: EmailMessage, address: str) -> Outcome:
        try:
            await aiosmtplib.send(
                email,
                sender=self.sender,
                recipients=[address],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            return outcome_of(exc)
        except OSError as exc:
            return Outcome.transient(f"SMTP server unreachable: {type(exc).__name__}")
        return Outcome.sent()


def outcome_of(exc: aiosmtplib.SMTPException) -> Outcome:
    """A 5xx refusal of this message is permanent; the rest (network, 4xx, our own login or
    TLS set-up, a server refusing all connections) is retried and, if it lasts, parked dead.
    Reasons hold the SMTP code and our own phrase, never the text a server sent."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = sorted({r.code for r in exc.recipients})
        reason = "SMTP " + ", ".join(str(c) for c in codes)
        if any(code >= 500 for code in codes):
            return Outcome.permanent(f"recipient refused: {reason}")
        return Outcome.transient(f"recipient deferred: {reason}")
    configuration = (aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPConnectResponseError)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(exc, configuration):
        if exc.code >= 500:
            return Outcome.permanent(f"SMTP refused the message: SMTP {exc.code}")
        return Outcome.transient(f"SMTP deferred the message: SMTP {exc.code}")
    return Outcome.transient(_describe(exc))


def _describe(exc: aiosmtplib.SMTPException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {type(exc).__name__}: SMTP {exc.code}"
    if isinstance(exc, OSError):  # connect errors, timeouts, a dropped connection
        return f"SMTP server unreachable: {type(exc).__name__}"
    return f"SMTP {type(exc).__name__}"
