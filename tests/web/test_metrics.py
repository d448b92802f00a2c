"""GET /metrics: Prometheus text behind a bearer token; refused without it (both databases)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from core.delivery.outbox import enqueue, telegram_text
from core.geo import build_geocoder
from web.app import WebContext, create_app
from web.ops import create_ops_app

TOKEN = "t" * 32


def _context(engine, sessions, tmp_path: Path, token: str | None) -> WebContext:
    return WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="head",
        bot_mode="disabled",
        media_dir=tmp_path,
        secret=b"k" * 32,
        geocoder=build_geocoder(user_agent="t"),
        metrics_token=token,
    )


async def _get(app, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


@pytest.mark.parametrize("factory", [create_app, create_ops_app])
async def test_metrics_need_the_bearer_token(engine, sessions, tmp_path: Path, factory) -> None:
    app = factory(_context(engine, sessions, tmp_path, TOKEN))
    assert (await _get(app, "/metrics")).status_code == 401
    wrong = await _get(app, "/metrics", Authorization="Bearer " + "x" * 32)
    assert wrong.status_code == 401
    assert (await _get(app, "/metrics", Authorization=TOKEN)).status_code == 401  # no "Bearer"


async def test_metrics_are_a_404_without_a_token_setting(engine, sessions, tmp_path: Path) -> None:
    app = create_app(_context(engine, sessions, tmp_path, None))
    answer = await _get(app, "/metrics", Authorization="Bearer ")
    assert answer.status_code == 404


async def test_metrics_report_the_database_backlogs(engine, sessions, tmp_path: Path) -> None:
    async with sessions() as session:
        for n in range(3):
            await enqueue(
                session,
                channel="telegram",
                recipient=f"chat:{n + 1}",
                payload=telegram_text("hello"),
                key=f"metrics-{n}",
            )
        await session.commit()
    app = create_ops_app(_context(engine, sessions, tmp_path, TOKEN))
    answer = await _get(app, "/metrics", Authorization=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert 'tipline_outbox_pending{channel="telegram"} 3.0' in lines
    assert "tipline_inbox_pending 0.0" in lines
    assert "tipline_queue_depth 0.0" in lines
    names = {line.split("{")[0].split(" ")[0] for line in lines if not line.startswith("#")}
    assert names and all(name.startswith("tipline_") for name in names)
    assert answer.headers["x-request-id"]


async def test_a_sane_request_id_is_kept_and_echoed(engine, sessions, tmp_path: Path) -> None:
    app = create_ops_app(_context(engine, sessions, tmp_path, TOKEN))
    kept = await _get(app, "/healthz", **{"X-Request-ID": "proxy-abc.123"})
    assert kept.headers["x-request-id"] == "proxy-abc.123"
    odd = await _get(app, "/healthz", **{"X-Request-ID": "<script>"})
    assert odd.headers["x-request-id"] != "<script>"
