"""Police: recipients per case, evidence packets to them, on-call pages, the liaison's download.

Where a case's packets go is set in moderation/forwarding/police_recipients.py (two-person rule). A
lead forwarded to police becomes one `forwards` row holding the packet document as it stood, and one
outbox row per active, approved recipient (`police:<recipient id>` on the `email` or `webhook`
channel); the senders read the address and the files at send time. Urgent leads also page the
on-call staff through one `oncall` row that OnCallPager fans out to the chat and e-mails in
settings.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import staff_action
from core.delivery.outbox import Outcome, Outgoing, chat_recipient, enqueue, telegram_text
from core.delivery.packets import build_packet, packet_zip, read_files, zip_name
from moderation.forwarding.police_recipients import POLICE, list_recipients, police_recipient
from moderation.policy import require
from moderation.review.tip_access import visible_tip
from storage.models import Forward, StaffUser, Tip
from storage.photostore import PhotoStores
from storage.types import utcnow

ONCALL = "oncall"


# --- packets -----------------------------------------------------------------------------------


async def forward_to_police(
    session: AsyncSession, *, tip: Tip, staff: StaffUser, decision_id: int | None, urgent: bool
) -> tuple[Forward, int]:
    """The lead's packet to every active recipient of its case; (forward, queued). No commit."""
    existing = await session.scalar(
        select(Forward).where(Forward.tip_id == tip.id, Forward.audience == POLICE)
    )
    if existing is not None:
        return existing, 0
    forward = Forward(
        tip_id=tip.id,
        case_id=tip.case_id,
        audience=POLICE,
        decision_id=decision_id,
        created_by=staff.id,
        created_at=utcnow(),
    )
    session.add(forward)
    await session.flush()
    info = {
        "reason": "urgent" if urgent else "promising",
        "forwarded_at": forward.created_at.isoformat(),
        "forwarded_by_role": staff.role,
        "decision_id": decision_id,
    }
    forward.packet = await build_packet(
        session,
        tip=tip,
        packet_id=f"{tip.ref}.F{forward.id}",
        generated_at=forward.created_at,
        forward=info,
    )
    recipients = (
        await list_recipients(session, case_id=tip.case_id, deliverable_only=True)
        if (tip.case_id)
        else []
    )
    for row in recipients:
        await enqueue(
            session,
            channel=row.kind,
            recipient=police_recipient(row.id),
            payload={"kind": "police_packet", "forward_id": forward.id, "urgent": urgent},
            key=f"forward:{forward.id}:police:{row.id}",
        )
    return forward, len(recipients)


async def load_packet(
    sessions: async_sessionmaker[AsyncSession], forward_id: int
) -> dict[str, Any] | None:
    """The packet document a police forward was made with (None when the forward is gone)."""
    async with sessions() as session:
        forward = await session.get(Forward, forward_id)
    if forward is None or forward.audience != POLICE or not forward.packet:
        return None
    return dict(forward.packet)


@dataclass(frozen=True, slots=True)
class Download:
    """A packet ZIP for the police liaison."""

    filename: str
    data: bytes


async def download_packet(
    session: AsyncSession, *, staff: StaffUser, tip_ref: str, stores: PhotoStores
) -> Download:
    """The packet as it stands now, as a ZIP, for a lead passed on to police. Commits; audited."""
    require(staff, "packet.download", "only a police liaison may download evidence packets")
    tip = await visible_tip(session, staff=staff, ref=tip_ref, action="packet.download")
    now = utcnow()
    document = await build_packet(
        session, tip=tip, packet_id=f"{tip.ref}.D{now:%Y%m%d%H%M%S}", generated_at=now
    )
    files = await asyncio.to_thread(read_files, document, stores)
    data = await asyncio.to_thread(packet_zip, document, files)
    await staff_action(
        session,
        staff,
        "packet.download",
        "tip",
        tip.ref,
        detail={
            "packet_id": document["packet_id"],
            "zip_sha256": hashlib.sha256(data).hexdigest(),
            "files": len(files),
        },
    )
    await session.commit()
    return Download(filename=zip_name(document), data=data)


# --- on-call pages -----------------------------------------------------------------------------


async def page_oncall(
    session: AsyncSession, *, key: str, subject: str, text: str, link: str | None = None
) -> None:
    """Page the on-call staff (chat and e-mails from settings, resolved at send). No commit.

    `link` is a dashboard path (/tips/REF); the pager prefixes the public address."""
    payload: dict[str, Any] = {"kind": "page", "subject": subject, "text": text}
    if link:
        payload["link"] = link
    await enqueue(session, channel=ONCALL, recipient=ONCALL, payload=payload, key=key)


class OnCallPager:
    """The `oncall` channel's sender: turns one page into a Telegram and e-mail rows of its own.

    The fan-out commits the new rows under keys derived from the page's key, so a retried page
    never pages anyone twice; with nobody configured the page is parked dead, never dropped."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chat_id: int | None,
        emails: Sequence[str],
        base_url: str = "",
    ) -> None:
        self.sessions = sessions
        self.chat_id = chat_id
        self.emails = list(emails)
        self.base_url = base_url.rstrip("/")

    async def send(self, message: Outgoing) -> Outcome:
        """Fan the page out; permanent when nobody is on call."""
        if self.chat_id is None and not self.emails:
            return Outcome.permanent(
                "nobody to page: set TIPLINE_ONCALL_CHAT_ID and/or TIPLINE_ONCALL_EMAILS"
            )
        subject = str(message.payload.get("subject") or "Tipline page")
        text = str(message.payload.get("text") or subject)
        link = message.payload.get("link")
        if link and self.base_url:
            text = f"{text}\n{self.base_url}{link}"
        async with self.sessions() as session:
            if self.chat_id is not None:
                await enqueue(
                    session,
                    channel="telegram",
                    recipient=chat_recipient(self.chat_id),
                    payload=telegram_text(text[:4000]),
                    key=f"{message.key}:tg"[:100],
                )
            for address in self.emails:
                digest = hashlib.sha256(address.encode()).hexdigest()[:16]
                await enqueue(
                    session,
                    channel="email",
                    recipient=f"email:{address}",
                    payload={"kind": "page", "subject": subject, "text": text},
                    key=f"{message.key[:70]}:mail:{digest}",
                )
            await session.commit()
        return Outcome.sent()
