"""Flood limits of the public forms: per address, per session and overall, a 429 page in the
reader's language with Retry-After, X-Forwarded-For believed only from a trusted proxy, and
nothing reaching quarantine before the form's checks pass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from core.limits import MemoryRateLimiter, parse_rates
from tests.web.test_report import JPEG, SECRET, geocoder, open_form, photo_files, stored_files, tips
from web.app import WebContext, create_app
from web.public.abuse import FormLimits

PROXY = "10.1.2.3"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(engine, sessions, tmp_path: Path, clock: Clock) -> Callable[..., httpx.AsyncClient]:
    limiter = MemoryRateLimiter(clock=clock)  # one limiter: every client is one deployment

    def make(peer: str = "198.51.100.7", limits: FormLimits | None = None) -> httpx.AsyncClient:
        context = WebContext(
            engine=engine,
            sessions=sessions,
            head_revision="head",
            bot_mode="disabled",
            media_dir=tmp_path / "media",
            secret=SECRET,
            geocoder=geocoder(),
            limiter=limiter,
            form_limits=limits or FormLimits(),
        )
        transport = httpx.ASGITransport(app=create_app(context), client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    return make


@pytest.fixture
async def client(make_client) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as client:
        yield client


async def _send(client: httpx.AsyncClient, text: str, **headers: str) -> httpx.Response:
    form = {**await open_form(client), "text": text, "when": "now"}
    return await client.post("/report", data=form, headers=headers)


async def test_a_script_is_stopped_within_seconds_by_the_default_limits(client, sessions):
    statuses = [(await _send(client, f"fake sighting {n}")).status_code for n in range(30)]
    assert statuses.count(200) == 5  # the session's 5 a minute
    assert set(statuses[5:]) == {429}
    assert len(await tips(sessions)) == 5


async def test_a_script_dropping_its_cookies_meets_the_address_limit(client, sessions):
    statuses = []
    for n in range(30):
        client.cookies.clear()
        statuses.append((await _send(client, f"fake sighting {n}")).status_code)
    assert statuses.count(200) == 10 and set(statuses[10:]) == {429}
    assert len(await tips(sessions)) == 10


async def test_a_person_sends_several_reports_an_hour(client, sessions, clock):
    for n in range(8):
        response = await _send(client, f"I saw her again, sighting {n}")
        assert response.status_code == 200, response.text
        clock.now += 7 * 60
    assert len(await tips(sessions)) == 8


async def test_the_refusal_is_a_429_in_the_readers_language_with_retry_after(client, sessions):
    for n in range(5):
        await _send(client, f"sighting {n}")
    refused = await _send(client, "one too many", **{"Accept-Language": "zh-CN,zh;q=0.9"})

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "提交过于频繁" in refused.text and 'lang="zh-Hans"' in refused.text
    assert len(await tips(sessions)) == 5


async def test_the_overall_limit_holds_across_addresses(make_client, sessions):
    limits = FormLimits(overall=parse_rates("4/1m"))
    statuses = []
    for n in range(6):
        async with make_client(peer=f"203.0.113.{n + 1}", limits=limits) as client:
            statuses.append((await _send(client, f"sighting {n}")).status_code)
    assert statuses == [200] * 4 + [429] * 2


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(make_client, sessions):
    async with make_client(peer="198.51.100.7") as client:
        statuses = []
        for n in range(12):
            client.cookies.clear()
            forged = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
            statuses.append((await _send(client, f"sighting {n}", **forged)).status_code)
    assert statuses.count(200) == 10 and statuses[10:] == [429, 429]


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(make_client, sessions):
    limits = FormLimits(
        trusted_proxies=FormLimits.read(
            address="10/1m", session="5/1m", overall="300/1m", proxies=["10.0.0.0/8"]
        ).trusted_proxies
    )
    async with make_client(peer=PROXY, limits=limits) as client:
        flood = []
        for n in range(12):
            client.cookies.clear()
            # The attacker's own header is on the left; the proxy appends the real peer.
            hops = {"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.99"}
            flood.append((await _send(client, f"flood {n}", **hops)).status_code)
        real = await _send(client, "real sighting", **{"X-Forwarded-For": "203.0.113.50"})
    assert flood.count(200) == 10 and flood[10:] == [429, 429]
    assert real.status_code == 200


async def test_status_look_ups_are_limited_too(client):
    answers = []
    for n in range(8):
        answers.append((await client.get("/status", params={"ref": f"W-{n:06d}"})).status_code)
    # The first look-up gets its session cookie; the next five count against it.
    assert answers == [404] * 6 + [429] * 2


async def test_the_case_form_is_limited_too(client):
    statuses = []
    for _ in range(7):
        fields = {name: v for name, v in (await open_form(client, "/people/new")).items()}
        statuses.append((await client.post("/people/new", data=fields)).status_code)
    assert statuses[5:] == [429, 429] and 429 not in statuses[:5]


async def test_a_photo_reaches_quarantine_only_after_the_nonce_and_field_checks(
    client, sessions, tmp_path
):
    fields = await open_form(client)
    files = photo_files(("a.jpg", JPEG))
    bad_nonce = await client.post(
        "/report", data={**fields, "nonce": "forged", "text": "x"}, files=files
    )
    too_many = {**fields, **{f"extra{n}": "x" for n in range(80)}}
    malformed = await client.post("/report", data=too_many, files=files)
    tampered = await client.post(
        "/report", data={**fields, "text": "x", "kept": "0" * 64 + ":image/jpeg:5.sig"}, files=files
    )

    assert bad_nonce.status_code == malformed.status_code == tampered.status_code == 400
    assert stored_files(tmp_path / "media") == []
    assert await tips(sessions) == []
