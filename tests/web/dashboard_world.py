"""A small world for dashboard tests: the real app on the test database, staff of every role
signed in through real session rows, and tips, photos, clusters and cases to look at."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.webhook_signing import WebhookSecrets
from core.identity.staff import hash_password
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter
from moderation.staff.auth import token_hash
from storage.models import Case, StaffSession, StaffUser, Tip, TipCluster, TipPhoto, Tipster
from storage.photostore import PhotoStores, open_photo_stores
from storage.types import utcnow
from web.app import WebContext, create_app
from web.dashboard.deps import SESSION_COOKIE, staff_csrf

SECRET = b"d" * 32
PASSWORD = "a long test passphrase"
TILES = "https://tile.example.org/{z}/{x}/{y}.png"
ROLES = ("moderator", "senior_moderator", "police_liaison", "admin", "auditor")
_HASH = hash_password(PASSWORD)


def jpeg(colour: tuple[int, int, int], *, size: int = 16) -> bytes:
    """A small JPEG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def build_context(
    engine: object,
    sessions: async_sessionmaker[AsyncSession],
    media: Path,
    *,
    public_url: str | None = None,
) -> WebContext:
    """The web context as the composition root builds it, on the test database."""
    return WebContext(
        engine=engine,  # type: ignore[arg-type]
        sessions=sessions,
        head_revision="head",
        bot_mode="disabled",
        media_dir=media,
        secret=SECRET,
        geocoder=None,  # type: ignore[arg-type] - the dashboard never geocodes
        vault=Vault(Vault.new_key()),
        limiter=MemoryRateLimiter(),
        photos=open_photo_stores(media),
        map_tile_url=TILES,
        public_url=public_url,
        webhook_secrets=WebhookSecrets(b"police-webhook-master-key-for-tests-0123456789"),
    )


async def client_for(context: WebContext) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (no network)."""
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@dataclass
class Signed:
    """A staff member with a verified session, and the form token of that session."""

    user: StaffUser
    token: str
    csrf: str


async def staff(session: AsyncSession, role: str, email: str | None = None) -> StaffUser:
    """A staff member (password PASSWORD, no TOTP)."""
    user = StaffUser(
        email=email or f"{role}-{secrets.token_hex(3)}@example.org",
        role=role,
        password_hash=_HASH,
    )
    session.add(user)
    await session.commit()
    return user


async def sign_in_as(
    session: AsyncSession, role: str, *, email: str | None = None, age: timedelta | None = None
) -> Signed:
    """A verified StaffSession row made directly (the sign-in flow has its own tests)."""
    user = await staff(session, role, email)
    token = secrets.token_urlsafe(32)
    started = utcnow() - (age or timedelta())
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            staff_id=user.id,
            verified=True,
            created_at=started,
            last_seen_at=started,
        )
    )
    await session.commit()
    return Signed(user=user, token=token, csrf=staff_csrf(SECRET, token))


def use(client: httpx.AsyncClient, signed: Signed | None) -> httpx.AsyncClient:
    """Make the client that staff member's browser."""
    client.cookies.clear()
    if signed is not None:
        client.cookies.set(SESSION_COOKIE, signed.token)
    return client


async def tipster(session: AsyncSession, **values: object) -> Tipster:
    """A pseudonymous tipster."""
    row = Tipster(pseudonym=f"T-{secrets.token_hex(3).upper()}", **values)
    session.add(row)
    await session.commit()
    return row


async def case(session: AsyncSession, **values: object) -> Case:
    """A verified case last seen in Xi'an."""
    defaults: dict[str, object] = {
        "full_name": "Li Wei",
        "status": "verified",
        "last_seen_at": utcnow() - timedelta(hours=10),
        "last_seen_place": "Xi'an railway station",
        "last_seen_lat": 34.2778,
        "last_seen_lon": 108.9631,
    }
    row = Case(**(defaults | values))
    session.add(row)
    await session.commit()
    return row


async def tip(session: AsyncSession, **values: object) -> Tip:
    """An open tip (received)."""
    defaults: dict[str, object] = {
        "channel": "telegram",
        "text": "a child in a red coat near the bell tower",
        "contact_allowed": True,
    }
    row = Tip(**(defaults | values))
    session.add(row)
    await session.commit()
    return row


async def cluster(session: AsyncSession, tips: list[Tip]) -> TipCluster:
    """A cluster of the given tips."""
    row = TipCluster(size=len(tips), independent_sources=len(tips))
    session.add(row)
    await session.flush()
    for member in tips:
        member.cluster_id = row.id
    await session.commit()
    return row


@dataclass
class Photo:
    """A processed tip photo: its row, and the bytes in each store."""

    row: TipPhoto
    display: bytes
    original: bytes


EXIF_LAT, EXIF_LON = 34.261357, 108.942468


async def photo(session: AsyncSession, stores: PhotoStores, tip_row: Tip, colour: int) -> Photo:
    """A processed photo with EXIF GPS kept as evidence and a clean display copy."""
    original = jpeg((colour, 10, 10), size=24)
    display = jpeg((colour, 10, 10))
    row = TipPhoto(
        tip_id=tip_row.id,
        status="processed",
        original_sha256=stores.originals.put(original),
        display_sha256=stores.display.put(display),
        thumb_sha256=stores.thumbnails.put(display),
        exif_lat=EXIF_LAT,
        exif_lon=EXIF_LON,
        exif_taken_at=utcnow() - timedelta(hours=2),
        camera="Pixel 8",
    )
    session.add(row)
    await session.commit()
    return Photo(row=row, display=display, original=original)


def hidden(page: str, name: str) -> str:
    """The value of a hidden form field."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return found.group(1)
