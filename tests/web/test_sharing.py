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


async def test_cases_near_a_shared_position_say_how_near_and_the_position_is_not_kept(
    client, session
):
    nearer = await public_case(session, last_seen_lat=34.27, last_seen_lon=108.95)
    farther = await public_case(
        session, full_name="Zhao Lei", last_seen_lat=34.60, last_seen_lon=108.95
    )
    far = await public_case(session, full_name="Far Away", last_seen_lat=22.5, last_seen_lon=114.0)
    page = await client.get("/?lat=34.2600&lon=108.9400")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    found = html.unescape(page.text)
    assert "Active cases within 100 km of your position (near Xi" in found  # the gazetteer's town
    assert found.index(nearer.full_name) < found.index(farther.full_name)  # nearest first
    assert re.findall(r'class="km-away">about (\d+) km away', found) == ["1", "38"]
    assert f"/report?case={nearer.ref}" in page.text and far.full_name not in page.text
    chinese = html.unescape((await client.get("/?lat=34.26&lon=108.94&lang=zh-Hans")).text)
    assert "您所在位置（西安" in chinese and "约 1 公里" in chinese
    kept = []
    for table in ("audit_events", "outbox_messages", "inbox_updates"):
        kept += [str(row) for row in (await session.execute(text(f"SELECT * FROM {table}"))).all()]
    assert "108.94" not in " ".join(kept)


async def test_a_position_that_is_not_one_is_refused_with_the_reason(client, session):
    await public_case(session, last_seen_lat=34.27, last_seen_lon=108.95)
    wrong = await client.get("/?lat=134.5&lon=108.9")
    assert wrong.status_code == 200 and 'id="position-invalid"' in wrong.text
    assert "latitude must be between -90 and 90" in html.unescape(wrong.text)
    assert "Li Xiaoming" not in wrong.text
    half = await client.get("/?lat=34.26&lon=")
    assert "Please give both latitude and longitude" in half.text
    pasted = html.unescape((await client.get("/?lat=34.26, 108.94&lon=")).text)
    assert "Li Xiaoming" in pasted and "about 1 km away" in pasted
    empty = await client.get("/?lat=+&lon=")
    assert 'id="position-invalid"' not in empty.text and 'id="near-found"' not in empty.text
