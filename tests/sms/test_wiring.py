"""`tipline run` with the SMS settings: signed texts posted concurrently are each committed by
the time their 200 arrives (read from the database file at once, no kill needed), a
redelivery stays one row, STOP is recorded, unsigned or forged posts are refused, and the
worker answers through the relay and the provider."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.fakes.sms.server import ACCOUNT_SID, AUTH_TOKEN, NUMBER, FakeSms
from tests.processes import TiplineProcess, tipline_env, wait_until

TEXTS = 60


def _admitted(db: Path, sid: str) -> bool:
    with sqlite3.connect(db) as connection:
        query = "SELECT 1 FROM sms_inbox WHERE message_sid = ?"
        return connection.execute(query, (sid,)).fetchone() is not None


async def test_tipline_run_commits_each_signed_text_before_its_200(tmp_path: Path):
    async with FakeSms() as fake:
        env = tipline_env(
            tmp_path,
            TIPLINE_FACES="false",
            TIPLINE_SMS_ACCOUNT_SID=ACCOUNT_SID,
            TIPLINE_SMS_AUTH_TOKEN=AUTH_TOKEN,
            TIPLINE_SMS_FROM=NUMBER,
            TIPLINE_SMS_API_BASE=fake.base_url,
        )
        env["TIPLINE_PUBLIC_URL"] = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}"
        url = env["TIPLINE_PUBLIC_URL"] + "/sms/webhook"
        db = tmp_path / "tipline.db"
        run = await asyncio.to_thread(TiplineProcess, env)
        try:
            texts = [fake.inbound(f"+4477009{i:05d}", f"seen {i}") for i in range(TEXTS)]

            async def post(fields: dict[str, str]) -> bool:
                status, _ = await fake.deliver(url, fields)
                return status == 200 and _admitted(db, fields["MessageSid"])

            assert all(await asyncio.gather(*(post(f) for f in texts)))
            assert (await fake.deliver(url, texts[0]))[0] == 200  # a redelivery
            assert (await fake.deliver(url, fake.inbound("+447700900001", "STOP")))[0] == 200
            assert (await fake.deliver(url, texts[1], sign=False))[0] == 401
            assert (await fake.deliver(url, texts[1], token="forged"))[0] == 403

            def reply() -> str | None:
                return next((s.body for s in fake.sends if s.to == "+447700900000"), None)

            first = await asyncio.to_thread(wait_until, reply, what="the first reply")
            assert "When did you see this?" in first and "\n1 Now\n" in first
        finally:
            await asyncio.to_thread(run.stop)
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT count(*), count(DISTINCT message_sid) FROM sms_inbox")
        assert rows.fetchone() == (TEXTS + 1, TEXTS + 1)
        assert connection.execute("SELECT count(*) FROM sms_opt_outs").fetchone() == (1,)
