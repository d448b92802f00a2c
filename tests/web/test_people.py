"""Public case pages (/people), their photos and posters, as anyone without a sign-in sees them.

Every test runs on SQLite and PostgreSQL (the `sessions` fixture) against the real app.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update

from core.cases.poster_layout import DEFAULT_FONT
from core.geo import GeocodingService, build_geocoder
from core.identity.vault import Vault
from handlers.context import BotServices
from settings import Settings
from storage.models import Case, CasePhoto
from storage.photostore import open_photo_stores
from tests.fakes.telegram.server import FakeTelegram
from tests.web.dashboard_world import build_context, case, jpeg
from tipline.app import _learn_bot_username
from web.app import WebContext

BOT = "tipline_test_bot"
WHATSAPP = "447700900123"
POLICE_REF = "PSB-XA-2025-0417"
CONTACT = b"sealed-contact-bytes"
PRECISE = ("34.2778", "108.9631")


@cache
def geocoder() -> GeocodingService:
    """One offline geocoder for the module (it takes a moment to load)."""
    return build_geocoder(user_agent="tipline-test")


@pytest.fixture
def context(engine, sessions, tmp_path: Path) -> WebContext:
    context = build_context(engine, sessions, tmp_path / "media")
    context.geocoder = geocoder()
    context.bot_username = BOT
    context.whatsapp_number = WHATSAPP
    return context


async def public_case(session, **values: object) -> Case:
    """An active case with private details that must never show."""
    defaults: dict[str, object] = {
        "status": "active",
        "full_name": "Li Xiaoming",
        "age_years": 6,
        "sex": "male",
        "description": "Red jacket, white sneakers",
        "marks": "Scar above the left eyebrow",
        "circumstances": "Walking home from school",
        "languages": "Mandarin",
        "police_ref": POLICE_REF,
        "contact_ciphertext": CONTACT,
        "verified_at": datetime.now(UTC),
    }
    return await case(session, **(defaults | values))


async def add_photo(session, context: WebContext, row: Case, colour: int, **values: object):
    """A case photo with our display and thumbnail copies in the stores."""
    stores = context.photos or open_photo_stores(context.media_dir)
    display, thumb = jpeg((colour, 20, 20), size=32), jpeg((colour, 20, 20), size=8)
    defaults: dict[str, object] = {
        "case_id": row.id,
        "status": "ready",
        "display_sha256": stores.display.put(display),
        "thumb_sha256": stores.thumbnails.put(thumb),
        "position": 0,
    }
    photo = CasePhoto(**(defaults | values))
    session.add(photo)
    await session.commit()
    return display, thumb


async def test_the_list_shows_verified_active_and_found_cases_newest_first(client, session):
    now = datetime.now(UTC)
    for status in ("submitted", "closed", "withdrawn", "rejected"):
        await public_case(session, status=status, full_name=f"Hidden {status}")
    await public_case(session, status="found", verified_at=None, full_name="Hidden unverified")
    await public_case(
        session, status="verified", full_name="Ann Old", created_at=now - timedelta(2)
    )
    await public_case(session, status="found", full_name="Bo Found", created_at=now - timedelta(1))
    await public_case(session, kind="found", full_name="Cy Family", created_at=now)
    page = await client.get("/people")
    assert page.status_code == 200
    assert "Hidden" not in page.text
    positions = [page.text.index(name) for name in ("Cy Family", "Bo Found", "Ann Old")]
    assert positions == sorted(positions)
    assert POLICE_REF not in page.text and PRECISE[0] not in page.text


async def test_the_case_page_shows_public_fields_but_never_contact_police_ref_or_point(
    client, session
):
    row = await public_case(session)
    page = await client.get(f"/people/{row.ref.lower().replace('-', '')}")
    assert page.status_code == 200
    shown_fields = ("Li Xiaoming", "Red jacket", "Scar above", "Walking home", "Xi&#39;an railway")
    for shown in shown_fields:
        assert shown in page.text
    assert POLICE_REF not in page.text and CONTACT.decode() not in page.text
    assert PRECISE[0] not in page.text and PRECISE[1] not in page.text
    assert f'href="/report?case={row.ref}&amp;lang=en"' in page.text
    assert f"https://t.me/{BOT}?start=case_{row.ref}" in page.text
    assert f"https://wa.me/{WHATSAPP}?text=case_{row.ref}" in page.text
    assert f"/people/{row.ref}/poster.pdf" in page.text


async def test_an_unverified_case_gets_the_same_404_as_an_unknown_reference(client, session):
    hidden = await public_case(session, status="submitted")
    unknown = await client.get("/people/ZZZZ-ZZZZ")
    for path in (f"/people/{hidden.ref}", f"/people/{hidden.ref}/poster.png"):
        answer = await client.get(path)
        assert answer.status_code == 404 == unknown.status_code
        assert answer.text == unknown.text
        assert "Li Xiaoming" not in answer.text


async def test_a_found_case_says_found_and_asks_for_no_sightings(client, session):
    row = await public_case(session, status="found")
    page = await client.get(f"/people/{row.ref}")
    assert page.status_code == 200 and 'id="found"' in page.text
    assert "/report?case=" not in page.text and "poster.pdf" not in page.text
    for kind in ("png", "pdf"):
        gone = await client.get(f"/people/{row.ref}/poster.{kind}")
        assert gone.status_code == 410 and 'id="found"' in gone.text
        assert "no longer shown" in gone.text
    chinese = await client.get(f"/people/{row.ref}/poster.png?lang=zh-Hans")
    assert chinese.status_code == 410 and "此海报已停止提供" in chinese.text


async def test_the_page_speaks_chinese_when_asked(client, session):
    row = await public_case(session)
    page = await client.get(f"/people/{row.ref}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "报告目击线索" in page.text and '<html lang="zh-Hans">' in page.text


async def test_photos_are_served_only_ready_and_only_for_public_cases(client, session, context):
    row = await public_case(session)
    display, thumb = await add_photo(session, context, row, 200)
    await add_photo(session, context, row, 90, status="quarantined", position=1)
    hidden = await public_case(session, status="submitted")
    await add_photo(session, context, hidden, 60)
    shown = await client.get(f"/people/{row.ref}/photos/1.jpg")
    assert shown.status_code == 200 and shown.content == display
    assert shown.headers["content-type"] == "image/jpeg"
    assert (await client.get(f"/people/{row.ref}/photos/1-thumb.jpg")).content == thumb
    assert (await client.get(f"/people/{row.ref}/photos/2.jpg")).status_code == 404
    assert (await client.get(f"/people/{hidden.ref}/photos/1.jpg")).status_code == 404
    listing = await client.get("/people")
    assert f"/people/{row.ref}/photos/1-thumb.jpg" in listing.text


@pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-noto-cjk is not installed")
async def test_posters_are_served_as_png_and_pdf_and_redrawn_when_the_case_changes(
    client, session, context
):
    row = await public_case(session)
    await add_photo(session, context, row, 200)
    png = await client.get(f"/people/{row.ref}/poster.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (1240, 1754)
    assert f'filename="tipline-poster-{row.ref}.png"' in png.headers["content-disposition"]
    assert png.headers["cache-control"] == "public, max-age=300"
    pdf = await client.get(f"/people/{row.ref}/poster.pdf")
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    cached = sorted(p.name for p in (context.media_dir / "posters").iterdir())
    assert len(cached) == 2 and all(name.startswith(f"{row.ref}-v0-") for name in cached)
    assert (await client.get(f"/people/{row.ref}/poster.png")).content == png.content
    await session.execute(
        update(Case).where(Case.id == row.id).values(poster_version=1, marks="Freckles")
    )
    await session.commit()
    redrawn = await client.get(f"/people/{row.ref}/poster.png")
    assert redrawn.content != png.content
    cached = sorted(p.name for p in (context.media_dir / "posters").iterdir())
    assert len(cached) == 2 and all(name.startswith(f"{row.ref}-v1-") for name in cached)


async def test_a_missing_font_refuses_posters_with_a_clear_page_and_the_rest_runs(
    client, session, context, tmp_path
):
    context.poster_font = tmp_path / "no-such-font.ttc"
    row = await public_case(session)
    refused = await client.get(f"/people/{row.ref}/poster.pdf")
    assert refused.status_code == 503 and 'id="poster-off"' in refused.text
    assert (await client.get(f"/people/{row.ref}")).status_code == 200


async def test_an_unknown_poster_format_is_a_404(client, session):
    row = await public_case(session)
    assert (await client.get(f"/people/{row.ref}/poster.svg")).status_code == 404


async def test_the_report_link_preselects_the_case(client, session):
    row = await public_case(session)
    form = await client.get(f"/report?case={row.ref}")
    assert form.status_code == 200 and f'value="{row.ref}"' in form.text


async def test_the_bot_username_for_poster_links_is_learned_from_get_me(context):
    context.bot_username = None
    services = BotServices(vault=Vault(Vault.new_key()), geocoder=geocoder())
    async with FakeTelegram(bot_username="missing_kids_bot") as fake:
        settings = Settings(bot_token=fake.token, telegram_api_base=fake.base_url)
        await _learn_bot_username(settings, context, services)
    assert context.bot_username == services.bot_username == "missing_kids_bot"


@pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-noto-cjk is not installed")
async def test_poster_links_come_from_the_configured_url_never_the_host_header(
    client, session, context, monkeypatch
):
    """A forged Host header must not put the attacker's site on a cached poster's QR code."""
    import web.public.people

    context.base_url = "https://tipline.example.org"
    seen: list[str] = []
    real = web.public.people.poster_data

    async def spy(*args, **kwargs):
        seen.append(kwargs["base_url"])
        return await real(*args, **kwargs)

    monkeypatch.setattr(web.public.people, "poster_data", spy)
    row = await public_case(session)
    await add_photo(session, context, row, 200)
    response = await client.get(f"/people/{row.ref}/poster.png", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert seen == ["https://tipline.example.org"]
