"""The public web form and status page, as a person without Telegram meets them.

Every test runs on SQLite and PostgreSQL (the `sessions` fixture) and asserts real rows and files.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from starlette.requests import Request

from core.geo import GeocodingService, build_geocoder
from core.geo.zones import country_zone
from storage.models import Case, Tip, TipPhoto
from storage.photostore import PhotoStore, PhotoStores
from tests.s3server import gone_bucket, s3_stores
from web import csrf
from web.app import WebContext, create_app
from web.public.uploads import read_form

SECRET = b"w" * 32
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


@cache
def geocoder() -> GeocodingService:
    """One offline geocoder for the module (it takes a moment to load)."""
    return build_geocoder(user_agent="tipline-test")


def image(fmt: str, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format=fmt)
    return buffer.getvalue()


JPEG = image("JPEG", (200, 10, 10))
PNG = image("PNG", (10, 200, 10))


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


def public_app(
    engine, sessions, media: Path, photos: PhotoStores | None = None
) -> httpx.AsyncClient:
    """A browser on the public web app (photos: the local stores under media unless given)."""
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="head",
        bot_mode="disabled",
        media_dir=media,
        secret=SECRET,
        geocoder=geocoder(),
        photos=photos,
    )
    transport = httpx.ASGITransport(app=create_app(context))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(engine, sessions, media) -> AsyncIterator[httpx.AsyncClient]:
    async with public_app(engine, sessions, media) as client:
        yield client


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return found.group(1)


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="text"[^>]*>([^<]*)</textarea>', page)
    assert found
    return found.group(1)


async def open_form(client: httpx.AsyncClient, url: str = "/report") -> dict[str, str]:
    response = await client.get(url)
    assert response.status_code == 200
    return {name: hidden(response.text, name) for name in ("csrf", "nonce", "lang")}


def photo_files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    # The declared type is a lie on purpose: only the bytes may count.
    return [("photos", (name, data, "image/jpeg")) for name, data in items]


async def tips(sessions) -> list[Tip]:
    async with sessions() as session:
        return list((await session.scalars(select(Tip))).all())


async def photos(sessions) -> list[TipPhoto]:
    async with sessions() as session:
        return list((await session.scalars(select(TipPhoto).order_by(TipPhoto.id))).all())


def stored_files(media: Path) -> list[Path]:
    root = media / "quarantine"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_full_report_creates_one_tip_with_two_quarantined_photos(client, sessions, media):
    fields = await open_form(client)
    form = {
        **fields,
        "text": "Girl in a red coat with a tall man, boarding bus 603",
        "when": "day",
        "date": "2024-05-01",
        "time": "14:30",
        "place": "Xi'an",
    }
    files = photo_files(("IMG_home_of_Li_Wei.jpg", JPEG), ("wedding-party.png", PNG))
    response = await client.post("/report", data=form, files=files)

    assert response.status_code == 200, response.text
    [tip] = await tips(sessions)
    assert re.search(rf'<p class="ref" id="ref">{re.escape(tip.ref)}</p>', response.text)
    assert tip.channel == "web" and tip.tipster_id is None and tip.status == "received"
    assert tip.text == form["text"]
    assert tip.place_text == "Xi’an, Shaanxi, China"
    assert tip.location_source == "typed"
    assert abs(tip.lat - 34.26) < 0.1 and abs(tip.lon - 108.93) < 0.1
    # 14:30 in Xi'an (Asia/Shanghai, UTC+8) is 06:30 UTC.
    assert tip.seen_at == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
    assert tip.seen_at_precision == "day"
    assert "Asia/Shanghai" in response.text

    rows = await photos(sessions)
    assert [row.tip_id for row in rows] == [tip.id, tip.id]
    assert {row.status for row in rows} == {"quarantined"}
    store = PhotoStore(media / "quarantine")
    for row, data, mime in zip(rows, (JPEG, PNG), ("image/jpeg", "image/png"), strict=True):
        sha = hashlib.sha256(data).hexdigest()
        assert row.source_ref == f"quarantine:{sha}"
        assert row.mime_type == mime and row.size_bytes == len(data)
        assert store.get(sha) == data
    # The uploaded names can identify the tipster: they are kept nowhere.
    dumped = repr([vars(row) for row in rows]) + repr(vars(tip))
    assert "Li_Wei" not in dumped and "wedding" not in dumped


async def test_replayed_post_with_the_same_nonce_creates_no_second_tip(client, sessions):
    form = {**await open_form(client), "text": "Boy on a blue bicycle", "when": "now"}
    first = await client.post("/report", data=form, files=photo_files(("a.jpg", JPEG)))
    second = await client.post("/report", data=form, files=photo_files(("a.jpg", JPEG)))

    assert first.status_code == second.status_code == 200
    [tip] = await tips(sessions)
    assert tip.ref in first.text and tip.ref in second.text
    assert len(await photos(sessions)) == 1


async def test_every_form_gets_its_own_tip(client, sessions):
    for text in ("first sighting", "second sighting"):
        form = {**await open_form(client), "text": text, "when": "unknown"}
        assert (await client.post("/report", data=form)).status_code == 200
    assert sorted(t.text for t in await tips(sessions)) == ["first sighting", "second sighting"]


async def test_missing_or_forged_csrf_token_is_refused_and_nothing_stored(client, sessions, media):
    fields = await open_form(client)
    base = {"nonce": fields["nonce"], "text": "seen at the station", "when": "now"}
    files = photo_files(("a.jpg", JPEG))

    missing = await client.post("/report", data=base, files=files)
    forged = await client.post("/report", data={**base, "csrf": "A" * 43}, files=files)
    # A valid token is worthless without the cookie it was made for (another site's POST).
    client.cookies.clear()
    no_cookie = await client.post("/report", data={**base, "csrf": fields["csrf"]}, files=files)

    for response in (missing, forged, no_cookie):
        assert response.status_code == 403
        assert 'id="refused"' in response.text and "Nothing was saved" in response.text
    assert await tips(sessions) == []
    assert stored_files(media) == []


async def test_csrf_cookie_is_httponly_and_samesite_strict(client):
    response = await client.get("/report")
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{csrf.COOKIE}=")
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert re.search(r"<script(?![^>]*\bsrc=)", response.text) is None  # no inline script


async def test_pdf_named_jpg_is_refused_and_the_typed_text_is_kept(client, sessions, media):
    form = {**await open_form(client), "text": "Tall man & a small girl <crying>", "when": "now"}
    files = photo_files(("good.png", PNG), ("evidence.jpg", PDF))
    response = await client.post("/report", data=form, files=files)

    assert response.status_code == 400
    assert "“evidence.jpg” is not a photo we accept (it is a PDF file)" in response.text
    assert textarea(response.text) == "Tall man &amp; a small girl &lt;crying&gt;"
    assert hidden(response.text, "nonce") == form["nonce"]
    assert await tips(sessions) == []
    assert stored_files(media) == []


async def test_eleven_photos_are_refused(client, sessions, media):
    form = {**await open_form(client), "text": "many photos", "when": "now"}
    files = photo_files(*((f"p{i}.png", image("PNG", (i, i, i))) for i in range(11)))
    response = await client.post("/report", data=form, files=files)

    assert response.status_code == 400
    assert "up to 10 photos in one report; you chose 11" in response.text
    assert textarea(response.text) == "many photos"
    assert await tips(sessions) == []
    assert stored_files(media) == []


async def test_a_photo_over_20_mb_is_refused_with_413(client, sessions, media):
    form = {**await open_form(client), "text": "huge photo", "when": "now"}
    huge = JPEG[:-2] + b"\0" * (20 * 1024 * 1024) + b"\xff\xd9"
    response = await client.post("/report", data=form, files=photo_files(("big.jpg", huge)))

    assert response.status_code == 413
    assert "“big.jpg” is larger than 20 MB" in response.text
    assert textarea(response.text) == "huge photo"
    assert await tips(sessions) == []
    assert stored_files(media) == []


async def test_a_request_over_the_limit_stops_reading_but_keeps_what_was_typed():
    boundary = "XyZ"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\nstill here\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    chunks = [head] + [b"\xff" * 1000] * 50
    sent = []

    async def receive():
        sent.append(1)
        body = chunks[len(sent) - 1] if len(sent) <= len(chunks) else b""
        return {"type": "http.request", "body": body, "more_body": len(sent) < len(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
    }
    form = await read_form(Request(scope, receive), max_bytes=5000)

    assert form.too_large and form.files == []
    assert form.get("text") == "still here"
    assert len(sent) < len(chunks)  # it stopped reading instead of swallowing the rest


async def test_an_ambiguous_place_asks_which_one_and_keeps_everything_else(client, sessions):
    form = {
        **await open_form(client),
        "text": "Two children in the back of a white van",
        "when": "day",
        "date": "2024-02-10",
        "time": "09:15",
        "place": "Springfield",
    }
    asked = await client.post("/report", data=form, files=photo_files(("van.jpg", JPEG)))

    assert asked.status_code == 200
    assert "Which “Springfield” did you mean?" in asked.text
    choices = re.findall(r'name="place_choice" value="([^"]+)"', asked.text)
    assert "Springfield, Illinois, United States" in choices
    assert "Springfield, Massachusetts, United States" in choices
    assert textarea(asked.text) == form["text"]
    assert await tips(sessions) == []
    kept = re.findall(r'name="kept" value="([^"]+)"', asked.text)
    assert len(kept) == 1  # the photo travels with the form: no need to choose it again

    answer = {**form, "place_choice": "Springfield, Illinois, United States", "kept": kept}
    # Another mistake on the way does not ask the place question again.
    mistake = await client.post("/report", data={**answer, "time": "25:00"})
    assert mistake.status_code == 400 and "The time must look like 14:30." in mistake.text
    assert hidden(mistake.text, "place_choice") == answer["place_choice"]
    assert "did you mean" not in mistake.text
    done = await client.post("/report", data=answer)
    assert done.status_code == 200, done.text
    [tip] = await tips(sessions)
    assert tip.place_text == "Springfield, Illinois, United States"
    assert abs(tip.lat - 39.8) < 0.2 and abs(tip.lon + 89.65) < 0.2
    # 09:15 in Illinois in February (America/Chicago, UTC-6) is 15:15 UTC.
    assert tip.seen_at == datetime(2024, 2, 10, 15, 15, tzinfo=UTC)
    [row] = await photos(sessions)
    assert row.tip_id == tip.id
    assert row.source_ref == f"quarantine:{hashlib.sha256(JPEG).hexdigest()}"


async def test_a_forged_kept_photo_is_refused(client, sessions):
    form = {**await open_form(client), "text": "x", "when": "now", "kept": "ab:image/jpeg:1.sig"}
    response = await client.post("/report", data=form)
    assert response.status_code == 400
    assert await tips(sessions) == []


async def test_a_place_not_on_the_map_is_kept_as_typed(client, sessions):
    form = {**await open_form(client), "when": "unknown", "place": "Xiaoshancun"}
    response = await client.post("/report", data=form)

    assert response.status_code == 200
    assert "not on our map" in response.text
    [tip] = await tips(sessions)
    assert tip.place_text == "Xiaoshancun" and tip.lat is None and tip.seen_at is None


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        ("123", "200", "“123, 200” is not a position"),
        ("north", "east", "“north, east” is not a position"),
        ("nan", "10", "“nan, 10” is not a position"),
        ("31.2", "", "Please give both latitude and longitude"),
    ],
)
async def test_bad_coordinates_get_a_clear_message(client, sessions, lat, lon, message):
    form = {**await open_form(client), "text": "on the bridge", "when": "now"}
    response = await client.post("/report", data={**form, "lat": lat, "lon": lon})

    assert response.status_code == 400
    assert message in response.text
    assert textarea(response.text) == "on the bridge"
    assert await tips(sessions) == []


async def test_coordinates_are_stored_as_a_point(client, sessions):
    form = {**await open_form(client), "when": "today", "time": "00:00", "lat": "31.2304, 121.4737"}
    response = await client.post("/report", data=form)

    assert response.status_code == 200, response.text
    [tip] = await tips(sessions)
    assert (tip.lat, tip.lon, tip.location_source) == (31.2304, 121.4737, "coords")
    assert "Asia/Shanghai" in response.text


async def test_a_date_and_time_without_a_choice_mean_another_day(client, sessions):
    form = {**await open_form(client), "text": "x", "date": "2023-12-24", "time": "18:00"}
    response = await client.post("/report", data={**form, "place": "London"})

    assert response.status_code == 200, response.text
    [tip] = await tips(sessions)
    assert tip.seen_at_precision == "day"
    assert tip.seen_at == datetime(2023, 12, 24, 18, 0, tzinfo=UTC)  # London in winter is UTC


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"when": "now"}, "Tell us what you saw, or give a place or a photo."),
        ({"text": "x", "when": "today"}, "Please give the time"),
        ({"text": "x", "when": "day", "date": "3024-01-01"}, "later than now"),
        ({"text": "x", "when": "day", "date": "01/05/2024"}, "The date must look like"),
        ({"text": "x", "when": "soon"}, "Please choose when"),
        ({"text": "x" * 4001, "when": "now"}, "4001 characters long; the limit is 4000"),
        ({"text": "x", "when": "now", "case": "not a code"}, "does not look like a case code"),
        ({"text": "x", "when": "now", "case": "K7Q2"}, "“K7Q2” does not look like a case code"),
    ],
)
async def test_unusable_answers_get_a_clear_message(client, sessions, form, message):
    response = await client.post("/report", data={**await open_form(client), **form})
    assert response.status_code == 400
    assert message in response.text
    assert await tips(sessions) == []


async def test_a_case_code_from_a_poster_prefills_the_form_and_links_the_tip(client, sessions):
    async with sessions() as session:
        case = Case(full_name="Li Mei", status="active")
        session.add(case)
        await session.commit()
        ref, case_id = case.ref, case.id
    page = await client.get(f"/report?case={ref}")
    assert f'name="case" value="{ref}"' in page.text

    form = {**await open_form(client), "text": "saw her", "when": "now", "case": ref.lower()}
    assert (await client.post("/report", data=form)).status_code == 200
    [tip] = await tips(sessions)
    assert tip.case_id == case_id


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=zz", b"this is not multipart at all"),
        ("multipart/form-data", b"--zz\r\n"),
        ("application/json", b'{"text": "hi"}'),
        (
            "multipart/form-data; boundary=zz",
            b'--zz\r\nContent-Disposition: form-data; name="text"\r\n\r\n\xff\xfe\r\n--zz--\r\n',
        ),
    ],
)
async def test_malformed_posts_get_a_clear_400_page(client, sessions, content_type, body):
    await open_form(client)
    response = await client.post("/report", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert "We could not read this form" in response.text
    assert "Traceback" not in response.text
    assert await tips(sessions) == []


async def test_status_page_shows_received_for_own_ref_and_404_for_unknown(client, sessions):
    form = {**await open_form(client), "text": "secret detail", "place": "Xi'an", "when": "now"}
    await client.post("/report", data=form, files=photo_files(("a.jpg", JPEG)))
    [tip] = await tips(sessions)

    own = await client.get(f"/status?ref={tip.ref.lower().replace('-', '')}")
    assert own.status_code == 200
    assert "Received: it is waiting for a moderator." in own.text
    assert tip.ref in own.text
    for private in ("secret detail", "Xi", "quarantine", "photo"):
        assert private not in own.text.split("<main>")[1].split("</main>")[0].replace(
            "any photo", ""
        )

    unknown = await client.get("/status?ref=ZZZZ-ZZZZ")
    assert unknown.status_code == 404
    assert "No web report has this reference." in unknown.text
    assert (await client.get("/status")).status_code == 200


async def test_status_follows_the_moderators_decision(client, sessions):
    form = {**await open_form(client), "text": "seen", "when": "now"}
    await client.post("/report", data=form)
    async with sessions() as session:
        tip = await session.scalar(select(Tip))
        tip.status = "forwarded"
        await session.commit()
        ref = tip.ref
    page = await client.get(f"/status?ref={ref}&lang=zh-Hans")
    assert "已转交给能够采取行动的人。" in page.text


async def test_chinese_pages_render_chinese(client, sessions):
    by_query = await client.get("/report?lang=zh-Hans")
    by_header = await client.get("/report", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"})
    english = await client.get("/report", headers={"accept-language": "fr-FR,en;q=0.5"})
    for page in (by_query, by_header):
        assert '<html lang="zh-Hans">' in page.text
        assert "报告目击线索" in page.text and "您的隐私" in page.text
    assert "Report a sighting" in english.text

    form = {**await open_form(client, "/report?lang=zh-Hans"), "text": "看到了", "when": "now"}
    assert form["lang"] == "zh-Hans"
    done = await client.post("/report", data=form)
    assert "谢谢您，我们已收到您的报告。" in done.text
    [tip] = await tips(sessions)
    assert tip.language == "zh-Hans"
    status = await client.get(f"/status?ref={tip.ref}&lang=zh-Hans")
    assert "已收到：正在等待审核员处理。" in status.text


async def test_only_web_tips_are_visible_on_the_status_page(client, sessions):
    async with sessions() as session:
        session.add(Tip(channel="telegram", source_key="tg:1", text="from the bot"))
        await session.commit()
        ref = await session.scalar(select(Tip.ref))
        assert await session.scalar(select(func.count()).select_from(Tip)) == 1
    assert (await client.get(f"/status?ref={ref}")).status_code == 404


def test_a_country_without_a_city_takes_the_zone_of_its_nearest_tz_database_city():
    assert country_zone("US", 40.7, -74.0) == "America/New_York"
    assert country_zone("CN", 34.26, 108.93) == "Asia/Shanghai"
    assert country_zone("??", 0.0, 0.0) is None


async def test_a_bucket_that_stops_answering_gets_503_and_keeps_the_typed_text(
    engine, sessions, media, s3
):
    with s3_stores(gone_bucket(s3)) as stores:
        async with public_app(engine, sessions, media, stores) as client:
            form = {**await open_form(client), "text": "Girl in a red coat", "when": "now"}
            answer = await client.post("/report", data=form, files=photo_files(("a.jpg", JPEG)))
    assert answer.status_code == 503
    assert textarea(answer.text) == "Girl in a red coat"  # nothing typed is lost
    assert await tips(sessions) == [] and stored_files(media) == []
