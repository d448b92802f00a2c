"""The story issue 19 must show, end to end through the product's own doors.

1. Staff register a missing child on the dashboard (HTTP forms) with photos at ages 2 and 5 and an
   age-progressed image at 30 (real face photos, tests/fixtures/faces), verify and activate it.
   A volunteer opts in with /alerts in the bot and gets the case's alert; a family member links
   with /start family_CODE from the code the forwarding page makes; a tipster reports a sighting
   through the bot's report flow from the poster's deep link.
2. `tipline people import` (the CLI, in its own process) imports 1,000 found people with a ZIP
   of photos; one of them is the same face.
3. The photo and face workers run; the match names the age-progressed image as the photo used.
4. A senior moderator confirms it by DNA with a lab reference on the matches page,
5. and records the reunion. The relay sends through the real aiogram Bot to the fake Telegram
   server: the family, the tipster and the volunteer are each told exactly once, and a second
   confirmation changes nothing.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import re
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.sender import TelegramSender
from core.faces import load_face_engine
from storage.models import CaseMatch, OutboxMessage
from storage.photostore import PhotoStore
from storage.types import utcnow
from tests.core.faces import face_images as faces
from tests.test_cli import ROOT, _env
from tests.web import dashboard_world as world
from tests.web import front_door
from workers.case_photos import CasePhotoWorker
from workers.faces import FaceWorker
from workers.relay import Relay, Retry

MOTHER, TIPSTER, VOLUNTEER = 9101, 9201, 9301
CHENGDU = (30.66, 104.06)
YEARS_MISSING = 27
LAB_REF = "LAB-2026-0042"
FOUND_ROW = 537  # the imported person who is the same face


@pytest.fixture
async def web(engine, sessions, services, tmp_path):
    """The dashboard on the test database, sharing the bot's vault (one deployment)."""
    context = world.build_context(engine, sessions, tmp_path / "media")
    context = dataclasses.replace(context, vault=services.vault)
    async for client in world.client_for(context):
        yield context, client


async def _no_telegram_file(file_id: str) -> bytes:
    raise AssertionError("no Telegram files in this story")


def _post(client, signed, url: str, files=None, **data: str):
    return client.post(url, data={**data, "csrf": signed.csrf}, files=files)


async def _register_missing_child(client, senior) -> str:
    """The staff form, then the photos with their ages, then verified and active."""
    seen = utcnow() - timedelta(days=round(YEARS_MISSING * 365.25))
    ref = await front_door.register_case(
        client,
        senior,
        full_name="Li Na",
        sex="female",
        age_years="5",
        description="red coat",
        last_seen_date=f"{seen:%Y-%m-%d}",
        last_seen_time="09:30",
        last_seen_place="Chengdu",
        lat=str(CHENGDU[0]),
        lon=str(CHENGDU[1]),
        police_ref="CD-1999-17",
        contact="mother 139 1111 2222",
    )
    for how, fields in (
        ("half size", {"photo_age_years": "2"}),
        ("brighter", {"photo_age_years": "5"}),
        ("turned 8°", {"photo_kind": "age_progressed", "photo_age_years": "30"}),
    ):
        photo = ("photos", (f"{how}.jpg", faces.transformed("grace_hopper", how), "image/jpeg"))
        added = await _post(client, senior, f"/cases/{ref}/photos", files=[photo], **fields)
        assert added.status_code == 303, added.text[:500]
    return ref


async def _verify_and_activate(client, senior, ref: str) -> None:
    for to in ("verified", "active"):
        moved = await _post(client, senior, f"/cases/{ref}/transition", to=to, reason="checked")
        assert moved.status_code == 303, moved.text[:500]


async def _volunteer_opts_in(chat, fake) -> None:
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.send(fake.location_message(VOLUNTEER, *CHENGDU))
    await chat.press(VOLUNTEER, "25 km")
    await chat.press(VOLUNTEER, "English")
    await chat.press(VOLUNTEER, "No quiet hours")
    await chat.press(VOLUNTEER, "Start alerts")
    assert "Thank you" in chat.last_text(VOLUNTEER)


async def _family_links(chat, fake, client, senior, ref: str) -> None:
    page = await _post(client, senior, f"/cases/{ref}/family-links")
    code = re.search(r"start=(family_[A-Z2-9]{16})", page.text).group(1)
    await chat.send(fake.command(MOTHER, "start", code))
    assert "Li Na" in chat.last_text(MOTHER)


async def _tipster_reports(chat, fake, ref: str) -> None:
    await chat.send(fake.command(TIPSTER, "start", f"case_{ref}"))
    assert f"You are reporting about Li Na ({ref})" in chat.last_text(TIPSTER)
    await chat.send(fake.text_message(TIPSTER, "A woman who looks like the poster, at the market"))
    await chat.press(TIPSTER, "I don't know")
    await chat.press(TIPSTER, "Skip")
    await chat.press(TIPSTER, "Skip")
    await chat.press(TIPSTER, "No, keep")
    await chat.press(TIPSTER, "Send report")


def _people_file() -> tuple[bytes, bytes]:
    """1,000 found people (a shelter's list); row FOUND_ROW has the same face, aged 32."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["source_id", "full_name", "sex", "age_years", "found_on", "photo"])
    for i in range(1000):
        if i == FOUND_ROW:
            writer.writerow([f"SH-{i}", "Unknown woman", "female", 32, "2026-11-01", "w.jpg"])
        else:
            name = f"Person {i:04d} Example"
            writer.writerow([f"SH-{i}", name, ("female", "male")[i % 2], 20 + i % 40, "", ""])
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w") as archive:
        archive.writestr("w.jpg", faces.raw("grace_hopper"))
    return out.getvalue().encode(), photos.getvalue()


async def _import_with_the_cli(db_url: str, tmp_path: Path) -> str:
    data, photos = _people_file()
    (tmp_path / "shelter.csv").write_bytes(data)
    (tmp_path / "photos.zip").write_bytes(photos)
    env = _env(tmp_path, TIPLINE_DATABASE_URL=db_url, TIPLINE_MEDIA_DIR=str(tmp_path / "media"))
    command = [sys.executable, "-m", "tipline", "people", "import", str(tmp_path / "shelter.csv")]
    command += ["--source", "Chengdu shelter", "--photos", str(tmp_path / "photos.zip")]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def _run_photo_and_face_workers(sessions, context, engine) -> None:
    photos = CasePhotoWorker(
        sessions=sessions,
        stores=context.photos,
        quarantine=PhotoStore(context.media_dir / "quarantine"),
        fetch=_no_telegram_file,
    )
    while await photos.run_once():
        pass
    face_worker = FaceWorker(sessions=sessions, engine=engine, stores=context.photos)
    while await face_worker.run_once():
        pass


async def _deliver(fake, services, sessions, context) -> None:
    bot = fake.bot()
    sender = TelegramSender(
        bot=bot,
        vault=services.vault,
        sessions=sessions,
        display_store=context.photos.display,
        request_timeout=2,
    )
    relay = Relay(
        sessions=sessions,
        senders={"telegram": sender},
        retry=Retry(max_attempts=3, base=0.05, cap=0.1),
        send_timeout=5,
        lease=10,
    )
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(30):
            while True:
                async with sessions() as session:
                    rows = (await session.scalars(select(OutboxMessage))).all()
                if all(r.status not in ("pending", "sending") for r in rows):
                    assert all(r.status == "sent" for r in rows if r.channel == "telegram")
                    return
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bot.session.close()


def _texts_to(fake, chat_id: int) -> list[str]:
    """What the bot sent to a chat (texts and photo captions), in order."""
    calls = [c for c in fake.calls(chat_id=chat_id) if c.method in ("sendMessage", "sendPhoto")]
    return [str(c.params.get("text") or c.params.get("caption") or "") for c in calls]


@pytest.fixture(scope="module")
def face_engine():
    loaded = load_face_engine()
    assert loaded is not None, "the 'faces' extra is part of the test environment"
    return loaded


async def test_a_child_missing_27_years_is_matched_confirmed_by_dna_and_everyone_told_once(
    chat, fake, sessions, services, web, db_url, tmp_path, face_engine
):
    context, client = web
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
    world.use(client, senior)

    # 1. The volunteer, the registration with aged photos, the family and a tipster.
    await _volunteer_opts_in(chat, fake)
    ref = await _register_missing_child(client, senior)
    await _run_photo_and_face_workers(sessions, context, face_engine)
    await _verify_and_activate(client, senior, ref)  # alerts the volunteer
    await _family_links(chat, fake, client, senior, ref)
    await _tipster_reports(chat, fake, ref)
    await _deliver(fake, services, sessions, context)
    assert len(fake.calls("sendPhoto", chat_id=VOLUNTEER)) == 1  # the case's alert
    before = {who: len(_texts_to(fake, who)) for who in (MOTHER, TIPSTER, VOLUNTEER)}

    # 2. 1,000 found people from the CLI, one the same face; 3. matched on the aged image.
    printed = await _import_with_the_cli(db_url, tmp_path)
    assert "1000 added, 0 updated, 0 refused" in printed
    await _run_photo_and_face_workers(sessions, context, face_engine)
    page = await client.get("/matches?kind=found")
    assert "Unknown woman" in page.text
    assert "Age-progressed image, about age 30 (photo 3)" in page.text
    async with sessions() as session:
        [match] = (await session.scalars(select(CaseMatch).where(CaseMatch.kind == "found"))).all()
    face = next(r for r in match.reasons if r["code"] == "face")
    assert (face["params"]["photo_kind"], face["params"]["photo_age_months"]) == (
        "age_progressed",
        360,
    )

    # 4. Confirmed by DNA with the lab's reference; 5. the reunion recorded.
    today = f"{utcnow():%Y-%m-%d}"
    confirm = {"evidence_type": "dna", "evidence_ref": LAB_REF, "evidence_on": today}
    url = f"/matches/{match.id}"
    assert (await _post(client, senior, f"{url}/confirm", **confirm)).status_code == 303
    assert (await _post(client, senior, f"{url}/confirm", **confirm)).status_code == 409
    reunion = {"reunion_on": today, "reunion_place": "Chengdu", "reunion_note": "Home at last"}
    assert (await _post(client, senior, f"{url}/reunion", **reunion)).status_code == 303
    await _deliver(fake, services, sessions, context)
    await _deliver(fake, services, sessions, context)  # nothing is sent twice

    new = {who: _texts_to(fake, who)[before[who] :] for who in (MOTHER, TIPSTER, VOLUNTEER)}
    assert len(new[MOTHER]) == 1 and "DNA" in new[MOTHER][0] and "Li Na" in new[MOTHER][0]
    assert len(new[TIPSTER]) == 1 and "found" in new[TIPSTER][0].lower()
    assert "Li Na" not in new[TIPSTER][0]  # thanks, no details
    assert len(new[VOLUNTEER]) == 1 and "found" in new[VOLUNTEER][0].lower()
    async with sessions() as session:
        stored = await session.get(CaseMatch, match.id)
    assert (stored.status, stored.evidence_ref) == ("reunited", LAB_REF)
    assert stored.evidence_type == "dna"
    assert stored.evidence_on == date.fromisoformat(today)
    gone = await client.get(f"/people/{ref}/poster.png")
    assert gone.status_code == 410
