"""The families' registration form /people/new, as a family without Telegram meets it.

Every test runs on SQLite and PostgreSQL and asserts real rows and quarantined files.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from core.cases.public import get_public_case
from core.cases.registry import open_contact
from core.geo import GeocodingService, build_geocoder
from core.identity.vault import Vault
from storage.models import Case, CasePhoto
from storage.photostore import PhotoStore
from web.app import WebContext, create_app

SECRET = b"p" * 32
VAULT = Vault(Vault.new_key())
YESTERDAY = f"{datetime.now(UTC) - timedelta(days=1):%Y-%m-%d}"


@cache
def geocoder() -> GeocodingService:
    """One offline geocoder for the module (it takes a moment to load)."""
    return build_geocoder(user_agent="tipline-test")


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
async def client(engine, sessions, media) -> AsyncIterator[httpx.AsyncClient]:
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="head",
        bot_mode="disabled",
        media_dir=media,
        secret=SECRET,
        geocoder=geocoder(),
        vault=VAULT,
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return found.group(1)


async def open_form(client: httpx.AsyncClient, lang: str = "en") -> dict[str, str]:
    page = await client.get(f"/people/new?lang={lang}")
    assert page.status_code == 200
    return {name: hidden(page.text, name) for name in ("csrf", "nonce", "lang")}


def fields(**values: str) -> dict[str, str]:
    base = {
        "kind": "missing",
        "full_name": "Zhang Min",
        "age_years": "5",
        "description": "yellow raincoat",
        "last_seen_place": "Xi'an",
        "last_seen_date": YESTERDAY,
        "last_seen_time": "14:30",
        "police_ref": "XA-2025-001",
        "contact": "mother 138 0000 1111",
        "photo_age_years": "2",
        "photo_age_months": "6",
    }
    return base | values


async def test_both_languages_render_the_form_with_csrf_and_no_inline_script(client):
    english = await client.get("/people/new")
    chinese = await client.get("/people/new", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert "Register a missing person" in english.text and "登记走失人员" in chinese.text
    for page in (english, chinese):
        assert 'name="csrf"' in page.text and 'name="nonce"' in page.text
        assert (
            "<script>" not in page.text
            and "script-src 'self'" in page.headers["content-security-policy"]
        )


async def test_a_family_registers_a_case_with_a_photo_once_and_it_is_not_public(
    client, sessions, media
):
    form = await open_form(client)
    photo = jpeg()
    files = [("photos", ("kid.jpg", photo, "image/jpeg"))]
    done = await client.post("/people/new", data=fields() | form, files=files)
    assert done.status_code == 200, done.text[:500]
    ref = re.search(r'id="ref">([^<]+)<', done.text).group(1)
    assert "nothing is public" in done.text and "police report reference" in done.text
    again = await client.post("/people/new", data=fields() | form, files=files)  # a refresh
    assert re.search(r'id="ref">([^<]+)<', again.text).group(1) == ref
    async with sessions() as session:
        cases = (await session.scalars(select(Case))).all()
        photos = (await session.scalars(select(CasePhoto))).all()
        assert await get_public_case(session, code=ref) is None
    assert len(cases) == 1
    case = cases[0]
    assert (case.ref, case.status, case.channel, case.kind) == (ref, "submitted", "web", "missing")
    assert open_contact(case, vault=VAULT) == "mother 138 0000 1111"
    assert b"138" not in (case.contact_ciphertext or b"")
    assert case.last_seen_lat == pytest.approx(34.26, abs=0.1)
    # 14:30 in Xi'an (UTC+8) is 06:30 UTC.
    assert case.last_seen_at is not None and f"{case.last_seen_at.astimezone(UTC):%H:%M}" == "06:30"
    sha = hashlib.sha256(photo).hexdigest()
    assert [(p.source_ref, p.status, p.position, p.age_months) for p in photos] == [
        (f"quarantine:{sha}", "quarantined", 0, 30)
    ]
    assert PhotoStore(media / "quarantine").get(sha) == photo


async def test_an_ambiguous_place_asks_which_one_and_the_answer_is_used(client, sessions):
    form = await open_form(client)
    data = fields(last_seen_place="Springfield", last_seen_time="") | form
    asked = await client.post("/people/new", data=data)
    assert asked.status_code == 200 and 'id="place-choices"' in asked.text
    choices = re.findall(r'name="place_choice" value="([^"]+)" required', asked.text)
    assert len(choices) >= 2
    async with sessions() as session:
        assert await session.scalar(select(func.count(Case.id))) == 0
    done = await client.post("/people/new", data=data | {"place_choice": choices[0]})
    assert done.status_code == 200 and 'id="ref"' in done.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert case.last_seen_place == choices[0] and case.last_seen_lat is not None


async def test_missing_name_and_contact_are_explained_in_chinese_and_nothing_is_stored(
    client, sessions
):
    form = await open_form(client, "zh-Hans")
    response = await client.post(
        "/people/new", data=fields(full_name=" ", birth_date="2018/3/4") | form
    )
    assert response.status_code == 400
    assert "请填写此人的姓名" in response.text and "出生日期" in response.text
    assert 'value="yellow raincoat"' not in response.text  # a textarea keeps it as text
    assert "yellow raincoat" in response.text
    response = await client.post("/people/new", data=fields(contact="") | form)
    assert response.status_code == 400 and "需要家人的联系方式（不会公开）" in response.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(Case.id))) == 0


async def test_a_found_person_needs_no_contact(client, sessions):
    form = await open_form(client)
    done = await client.post(
        "/people/new", data=fields(kind="found", full_name="unknown girl", contact="") | form
    )
    assert done.status_code == 200
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert case.kind == "found" and case.contact_ciphertext is None


async def test_a_post_without_the_form_token_is_refused_and_stores_nothing(client, sessions):
    form = await open_form(client)
    response = await client.post("/people/new", data=fields() | form | {"csrf": "forged"})
    assert response.status_code == 403
    response = await client.post("/people/new", data=fields() | form | {"nonce": "made-up"})
    assert response.status_code == 400
    async with sessions() as session:
        assert await session.scalar(select(func.count(Case.id))) == 0


async def test_photos_without_their_age_are_refused_with_the_reason_and_nothing_is_kept(
    client, sessions
):
    form = await open_form(client)
    files = [("photos", ("kid.jpg", jpeg(), "image/jpeg"))]
    data = fields(photo_age_years="", photo_age_months="") | form
    refused = await client.post("/people/new", data=data, files=files)
    assert refused.status_code == 400 and "Give the age in the photos" in refused.text
    unknown = await client.post("/people/new", data=data | {"photo_age_unknown": "1"}, files=files)
    assert unknown.status_code == 200
    async with sessions() as session:
        photos = (await session.scalars(select(CasePhoto))).all()
    assert [p.age_months for p in photos] == [None]
