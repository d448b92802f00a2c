"""Sharing and the reader's language on public pages: OpenGraph and Twitter-card tags and share
links (copy, Telegram, WhatsApp, a WeChat QR) on a case page; the landing page and the footer's
money warning in Chinese; active cases near a typed town, with links to report, and the town never
stored.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest
from sqlalchemy import text

from tests.web.dashboard_world import build_context, client_for
from tests.web.test_people import BOT, add_photo, geocoder, public_case

PUBLIC = "https://tipline.example.org"


@pytest.fixture
def context(engine, sessions, tmp_path):
    made = build_context(engine, sessions, tmp_path / "media")
    made.geocoder = geocoder()
    made.bot_username = BOT
    return made


@pytest.fixture
async def client(context):
    async for made in client_for(context):
        yield made


def _meta(page: str, key: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', page)
    assert found, key
    return html.unescape(found.group(1))


async def test_a_case_page_carries_card_tags_with_its_photo_name_and_last_seen(
    client, context, session
):
    context.public_url = PUBLIC
    row = await public_case(session, last_seen_place="Xi'an railway station")
    await add_photo(session, context, row, 90)
    page = (await client.get(f"/people/{row.ref}")).text
    url = f"{PUBLIC}/people/{row.ref}"
    assert _meta(page, "og:url") == url
    assert _meta(page, "og:title") == "Missing: Li Xiaoming"
    assert "Xi'an railway station" in _meta(page, "og:description")
    assert _meta(page, "og:image") == f"{url}/photos/1.jpg"
    assert _meta(page, "twitter:card") == "summary_large_image"
    assert _meta(page, "twitter:image") == f"{url}/photos/1.jpg"
    image = await client.get(f"/people/{row.ref}/photos/1.jpg")
    assert image.status_code == 200  # the card's photo is served to anyone


async def test_a_case_page_has_share_links_and_a_wechat_qr_of_its_address(client, context, session):
    context.public_url = PUBLIC
    row = await public_case(session)
    page = (await client.get(f"/people/{row.ref}?lang=zh-Hans")).text
    url = f"{PUBLIC}/people/{row.ref}"
    assert f'value="{url}"' in page and "复制链接" in page and "/static/share.js" in page
    telegram = html.unescape(re.search(r'id="share-telegram" href="([^"]+)"', page).group(1))
    assert telegram.startswith(f"https://t.me/share/url?url={quote(url, safe='')}&text=")
    whatsapp = html.unescape(re.search(r'id="share-whatsapp" href="([^"]+)"', page).group(1))
    assert whatsapp.startswith("https://wa.me/?text=") and quote(url) in whatsapp
    assert re.search(r'<svg [^>]*class="qr"', page) and "微信" in page
    assert _meta(page, "og:title") == "寻人：Li Xiaoming"


async def test_a_found_persons_page_offers_no_sharing_to_look_for_them(client, session):
    row = await public_case(session, status="found")
    page = (await client.get(f"/people/{row.ref}")).text
    assert 'id="share"' not in page


async def test_the_landing_page_and_the_footer_read_in_chinese(client):
    page = (await client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})).text
    assert "您见过失踪的孩子吗？" in page and "Tipline 从不索要任何费用" in page
    assert "never asks for money" not in page
    english = (await client.get("/?lang=en")).text
    assert "Have you seen a missing child?" in english and "never asks for money" in english


async def test_cases_near_a_typed_town_are_listed_with_report_links_and_the_town_is_not_kept(
    client, session
):
    near = await public_case(session, last_seen_lat=34.27, last_seen_lon=108.95)
    far = await public_case(session, full_name="Far Away", last_seen_lat=22.5, last_seen_lon=114.0)
    hidden = await public_case(
        session, status="submitted", full_name="Not Public", last_seen_lat=34.26
    )
    page = await client.get("/?town=Xi'an")
    assert page.headers["cache-control"] == "no-store"
    assert near.full_name in page.text and f"/report?case={near.ref}" in page.text
    assert far.full_name not in page.text and hidden.full_name not in page.text
    none = await client.get("/?town=Kashgar&lang=zh-Hans")
    assert 'id="near-none"' in none.text and "公里内没有进行中的案例" in none.text
    unknown = await client.get("/?town=Qwxzzyplace")
    assert 'id="town-unknown"' in unknown.text and "Qwxzzyplace" in unknown.text
    kept = []
    for table in ("audit_events", "outbox_messages", "inbox_updates"):
        kept += [str(row) for row in (await session.execute(text(f"SELECT * FROM {table}"))).all()]
    dump = " ".join(kept)
    assert "Xi'an" not in dump and "Kashgar" not in dump
