"""core.identity.erasure: originals in a police packet stay under legal hold (recorded); others go;
the bot's caches are cleared after an erasure anywhere."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.audit import record
from core.identity.erasure import erase_identity, watching_erasures
from core.identity.vault import Vault
from storage.models import AuditEvent, Forward, TipPhoto, TipsterIdentity
from storage.photostore import open_photo_stores
from tests.web import dashboard_world as world

VAULT = Vault(Vault.new_key())


async def test_originals_in_a_police_packet_are_held_and_the_rest_released(sessions, tmp_media):
    stores = open_photo_stores(tmp_media)
    async with sessions() as session:
        tipster = await world.tipster(session)
        session.add(
            TipsterIdentity(
                tipster_id=tipster.id,
                lookup_hash=VAULT.lookup_hash("telegram", "1"),
                ciphertext=VAULT.seal({"chat_id": 1, "user_id": 1}),
            )
        )
        staff = await world.staff(session, "senior_moderator")
        sent = await world.tip(session, tipster_id=tipster.id)
        unsent = await world.tip(session, tipster_id=tipster.id)
        held = await world.photo(session, stores, sent, 10)
        released = await world.photo(session, stores, unsent, 20)
        kept_sha, gone_sha = held.row.original_sha256, released.row.original_sha256
        session.add(Forward(tip_id=sent.id, audience="police", created_by=staff.id))
        await session.commit()
        erased = await erase_identity(
            session,
            VAULT,
            tipster_id=tipster.id,
            actor_id=staff.id,
            actor_role="senior_moderator",
            originals=stores.originals,
        )
    assert (erased.photos_on_legal_hold, erased.originals) == (1, 1)
    assert stores.originals.exists(kept_sha)
    assert not stores.originals.exists(gone_sha)
    assert stores.display.exists(released.row.display_sha256)  # the clean copy stays
    async with sessions() as session:
        rows = {p.id: p for p in (await session.scalars(select(TipPhoto))).all()}
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "identity.erased")
        )
    assert rows[held.row.id].camera == "Pixel 8" and rows[held.row.id].original_sha256
    assert rows[released.row.id].camera is None and rows[released.row.id].original_sha256 is None
    assert event.detail["photos_on_legal_hold"] == 1 and event.detail["originals"] == 1


async def test_an_erasure_committed_by_another_process_clears_the_caches(sessions):
    forgotten = asyncio.Event()
    async with watching_erasures(sessions, forgotten.set, interval=0.05):
        await asyncio.sleep(0.1)
        assert not forgotten.is_set()  # nothing erased: the caches stay
        async with sessions() as session:  # what another `tipline run` commits
            await record(
                session,
                actor_role="senior_moderator",
                action="identity.erased",
                object_type="tipster",
                object_ref="T-AAAA-BBBB",
            )
            await session.commit()
        await asyncio.wait_for(forgotten.wait(), 10)
