"""The moderators' group: cards through the outbox, token buttons, linked staff, one decision.

Transcripts run the real bot stack (inbox, Dispatcher, middlewares) against the fake Bot API
server, with the group registered as a supergroup; cards are delivered by the real sender.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.sender import TelegramSender
from core.delivery.outbox import CALLBACK_LIMIT, Outgoing
from core.identity.tipsters import get_or_create_tipster
from handlers import build_routers, moderators
from moderation.cases.cards import CardSettings, announce, prune_tokens, redact, render_card
from moderation.staff.links import create_link_code, unlink_telegram
from storage.models import (
    AuditEvent,
    CallbackToken,
    Decision,
    OutboxMessage,
    StaffUser,
    Tip,
    TipCluster,
)
from storage.photostore import PhotoStore
from storage.types import utcnow
from tests.bot.harness import Transcript, build_transcript
from tests.moderation import factories

GROUP = -1001234567890
OTHER_GROUP = -1009876543210
ALICE, AUDREY, STRANGER = 7001, 7002, 7999
BASE = "https://tipline.example"
_serial = itertools.count(1)


@pytest.fixture
async def group(fake, sessions, services, tmp_media) -> AsyncIterator[Transcript]:
    """The whole bot with the moderators' router wired as the composition root should."""
    fake.register_chat(GROUP, type="supergroup", title="Moderators")
    fake.register_chat(OTHER_GROUP, type="supergroup", title="Somewhere else")
    services.moderators_chat_id = GROUP
    routers = build_routers()
    if not any(r.name == "moderators" for r in routers):
        routers.insert(1, moderators.build_router())  # right after the limits router
    transcript = build_transcript(fake=fake, sessions=sessions, services=services, routers=routers)
    transcript.display = PhotoStore(tmp_media / "display")  # for the sender; cards are text
    yield transcript
    await transcript.bot.session.close()


def card_settings(**overrides) -> CardSettings:
    return CardSettings(chat_id=GROUP, base_url=BASE, **overrides)


async def _staff(sessions, role: str, email: str | None = None) -> StaffUser:
    async with sessions() as session:
        return await factories.staff(
            session, role, email=email or f"{role}-{next(_serial)}@example.org"
        )


async def _link(group: Transcript, staff: StaffUser, telegram_user: int, where: int = GROUP):
    async with group.sessions() as session:
        code = await create_link_code(session, staff=await session.get(StaffUser, staff.id))
    await group.send(group.fake.command(where, "link", code, user=telegram_user))
    return code


async def _tip(sessions, services, *, score: float = 85.0, **values) -> Tip:
    async with sessions() as session:
        person = await get_or_create_tipster(
            session,
            services.vault,
            channel="telegram",
            external_id=str(next(_serial)),
            identity={"chat_id": 4242, "username": "secret_sam", "first_name": "Samantha"},
            language="en",
        )
        values.setdefault("text", "A girl in a red coat with a man, near the bus station")
        return await factories.tip(session, score=score, tipster=person, **values)


async def _outbox(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _deliver(group: Transcript, services) -> None:
    """Send the group's pending outbox rows with the real sender (the relay's job)."""
    sender = TelegramSender(
        bot=group.bot,
        vault=services.vault,
        sessions=group.sessions,
        display_store=group.display,
    )
    for row in await _outbox(group.sessions):
        if row.status != "pending" or row.recipient != f"chat:{GROUP}":
            continue
        message = Outgoing(row.id, row.idempotency_key, row.channel, row.recipient, row.payload, 0)
        assert (await sender.send(message)).kind == "sent"
        async with group.sessions() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(status="sent")
            )
            await session.commit()


async def _card_in_group(group: Transcript, services, **tip_values) -> Tip:
    tip = await _tip(group.sessions, services, **tip_values)
    async with group.sessions() as session:
        done = await announce(session, settings=card_settings())
    assert done.cards == 1
    await _deliver(group, services)
    return tip


def _answers(group: Transcript) -> list[str]:
    return [str(c.params.get("text", "")) for c in group.fake.calls("answerCallbackQuery")]


async def _state(sessions, tip_id: int) -> tuple[str, int]:
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        decisions = (await session.scalars(select(Decision).where(Decision.tip_id == tip_id))).all()
    return tip.status, len(decisions)


# --- cards ------------------------------------------------------------------------------------


async def test_a_high_scoring_tip_becomes_one_card_with_token_buttons_in_the_outbox(
    sessions, services
):
    tip = await _tip(
        sessions, services, score=72, place_text="Lyon, France", lat=45.7601, lon=4.8357
    )
    low = await _tip(sessions, services, score=30)
    async with sessions() as session:
        first = await announce(session, settings=card_settings())
        again = await announce(session, settings=card_settings())
        tokens = (await session.scalars(select(CallbackToken))).all()
    assert (first.cards, again.cards) == (1, 0)
    [row] = await _outbox(sessions)
    assert row.recipient == f"chat:{GROUP}" and row.payload["protect_content"] is True
    text = row.payload["text"]
    assert tip.ref in text and "score 72" in text and f"{BASE}/tips/{tip.ref}" in text
    assert "Lyon, France" in text and "45.76" not in text and "4.835" not in text
    assert low.ref not in text
    # No identity and no pseudonym ("T-..."); the tip's own random ref may contain "T-".
    without_ref = text.replace(tip.ref, "")
    for secret in ("secret_sam", "Samantha", "4242", "T-"):
        assert secret not in without_ref
    data = [d for row_ in row.payload["buttons"] for _, d in row_]
    assert len(data) == 5 and all(len(d.encode()) <= CALLBACK_LIMIT for d in data)
    assert {t.token for t in tokens} == set(data)
    assert {t.action for t in tokens} == {
        "promising",
        "needs_info",
        "not_relevant",
        "spam",
        "urgent",
    }
    assert all(t.tip_id == tip.id and t.expires_at > utcnow() for t in tokens)
    assert not any(d in ("promising", "spam") or tip.ref in d for d in data)


async def test_an_urgent_tip_gets_a_card_whatever_its_score(sessions, services):
    tip = await _tip(sessions, services, score=5, urgent=True)
    async with sessions() as session:
        assert (await announce(session, settings=card_settings())).cards == 1
    [row] = await _outbox(sessions)
    assert "URGENT" in row.payload["text"] and tip.ref in row.payload["text"]


async def test_a_cluster_gets_one_card_for_its_best_tip(sessions, services):
    async with sessions() as session:
        cluster = TipCluster(size=3, independent_sources=3)
        session.add(cluster)
        await session.commit()
        cluster_id = cluster.id
    best = await _tip(sessions, services, score=90, cluster_id=cluster_id)
    await _tip(sessions, services, score=80, cluster_id=cluster_id)
    async with sessions() as session:
        assert (await announce(session, settings=card_settings())).cards == 1
    await _tip(sessions, services, score=95, cluster_id=cluster_id)
    async with sessions() as session:
        assert (await announce(session, settings=card_settings())).cards == 0
    [row] = await _outbox(sessions)
    assert best.ref in row.payload["text"] and "3 similar tips" in row.payload["text"]


def test_the_preview_hides_contacts_links_and_coordinates_but_keeps_dates():
    text = (
        "Saw her at 48.85837, 2.29448 on 2024-05-01 at 14:30, call me +33 6 12 34 56 78 "
        "or sam@example.org, @secret_sam, https://maps.google.com/?q=48.85837,2.29448"
    )
    clean = redact(text, "[hidden]")
    for secret in ("48.858", "2.294", "12 34 56", "sam@example.org", "@secret_sam", "maps.google"):
        assert secret not in clean
    assert "2024-05-01" in clean and "14:30" in clean


def test_a_typed_place_without_a_city_is_not_shown():
    tip = Tip(
        ref="ABCD-2345",
        text="x",
        score=70,
        urgent=False,
        place_text="outside 12 Rue Cler",
        details={"place": {"source": "typed", "text": "outside 12 Rue Cler"}},
    )
    from core.i18n import Texts

    card = render_card(tip, texts=Texts("en"), base_url=BASE)
    assert "Rue Cler" not in card and "Place: not named" in card


# --- presses ----------------------------------------------------------------------------------


async def test_spam_pressed_by_a_linked_moderator_decides_once_and_the_card_shows_who(
    group, services
):
    alice = await _staff(group.sessions, "moderator", "alice.w@example.org")
    await _link(group, alice, ALICE)
    assert "count as alice.w" in group.last_text(GROUP)
    tip = await _card_in_group(group, services)
    assert tip.ref in group.last_text(GROUP)
    await group.press(GROUP, "Spam", user=ALICE)
    assert await _state(group.sessions, tip.id) == ("spam", 1)
    assert _answers(group)[-1] == "Done: spam."
    assert group.last_text(GROUP).endswith("Decided: spam, by alice.w")
    edit = group.fake.calls("editMessageText")[-1]
    assert not edit.params.get("reply_markup")  # the buttons are gone

    await group.press(GROUP, "Not relevant", user=ALICE)  # a stale client's second press
    assert await _state(group.sessions, tip.id) == ("spam", 1)
    assert _answers(group)[-1] == "Already decided (spam); nothing changed."
    assert len(group.fake.calls("editMessageText")) == 1


async def test_a_tip_decided_on_the_web_meanwhile_is_not_decided_again(group, services):
    from moderation.review.decisions import Outcome, decide

    alice = await _staff(group.sessions, "moderator", "alice@example.org")
    bob = await _staff(group.sessions, "senior_moderator", "bob@example.org")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    async with group.sessions() as session:
        staff = await session.get(StaffUser, bob.id)
        await decide(session, staff=staff, tip_ref=tip.ref, outcome=Outcome.PROMISING)
    await group.press(GROUP, "Spam", user=ALICE)
    assert await _state(group.sessions, tip.id) == ("promising", 1)
    assert _answers(group)[-1] == "Already decided (promising); nothing changed."
    assert group.last_text(GROUP).endswith("Decided: promising, by bob")


async def test_a_tip_a_colleague_holds_in_the_dashboard_is_left_to_them(group, services):
    from moderation.review.queue import claim

    alice = await _staff(group.sessions, "moderator")
    bob = await _staff(group.sessions, "moderator")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    async with group.sessions() as session:
        await claim(session, tip_id=tip.id, staff_id=bob.id)
    await group.press(GROUP, "Spam", user=ALICE)
    assert await _state(group.sessions, tip.id) == ("received", 0)
    assert "colleague is reviewing" in _answers(group)[-1]
    assert group.fake.calls("editMessageText") == []


async def test_needs_info_points_to_the_dashboard_and_decides_nothing(group, services):
    alice = await _staff(group.sessions, "moderator")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    await group.press(GROUP, "Needs info", user=ALICE)
    assert await _state(group.sessions, tip.id) == ("received", 0)
    assert "dashboard" in _answers(group)[-1]


async def test_forged_and_expired_tokens_are_refused_logged_and_change_nothing(
    group, services, caplog
):
    alice = await _staff(group.sessions, "moderator")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    [(_, token)] = [b for b in group.buttons(GROUP) if "Spam" in b[0]]
    message_id = group.fake.calls("sendMessage", GROUP)[-1].result["message_id"]
    caplog.set_level(logging.WARNING, logger="tipline.moderation")
    for forged in ("spam", f"spam:{tip.id}", token[:-1] + ("A" if token[-1] != "A" else "B")):
        await group.send(group.fake.callback_query(GROUP, message_id, forged, user=ALICE))
        assert (
            _answers(group)[-1] == "This button is no longer valid. Open the tip in the dashboard."
        )
    async with group.sessions() as session:
        await session.execute(
            update(CallbackToken)
            .where(CallbackToken.tip_id == tip.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    await group.press(GROUP, "Spam", user=ALICE)
    assert _answers(group)[-1].startswith("This button is no longer valid")
    assert await _state(group.sessions, tip.id) == ("received", 0)
    refused = [
        r.getMessage() for r in caplog.records if "refused a moderator button" in r.getMessage()
    ]
    assert sum("unknown token" in m for m in refused) == 3
    assert sum("expired token" in m for m in refused) == 1
    async with group.sessions() as session:
        assert await prune_tokens(session) == 5
        assert (await session.scalars(select(CallbackToken))).all() == []


async def test_an_unlinked_telegram_user_is_told_to_link_first(group, services):
    tip = await _card_in_group(group, services)
    await group.press(GROUP, "Spam", user=STRANGER)
    assert _answers(group)[-1].startswith("Link your Telegram account in the dashboard first")
    assert await _state(group.sessions, tip.id) == ("received", 0)


async def test_a_press_in_another_chat_is_ignored(group, services):
    alice = await _staff(group.sessions, "moderator")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    [(_, token)] = [b for b in group.buttons(GROUP) if "Spam" in b[0]]
    before = len(_answers(group))
    group.fake.state.chats.new_message(OTHER_GROUP, {"text": "a copy"})
    await group.send(group.fake.callback_query(OTHER_GROUP, 1, token, user=ALICE))
    assert len(_answers(group)) == before  # not even answered: no router takes it
    await group.send(group.fake.callback_query(ALICE, 1, token, user=ALICE))  # private chat
    assert await _state(group.sessions, tip.id) == ("received", 0)
    assert not any("Done" in a for a in _answers(group))


async def test_a_linked_auditor_is_refused_by_the_policy(group, services):
    audrey = await _staff(group.sessions, "auditor")
    await _link(group, audrey, AUDREY)
    tip = await _card_in_group(group, services)
    await group.press(GROUP, "Spam", user=AUDREY)
    assert _answers(group)[-1] == "Your role may not decide tips."
    assert await _state(group.sessions, tip.id) == ("received", 0)


async def test_buttons_do_nothing_when_no_moderators_chat_is_configured(group, services):
    alice = await _staff(group.sessions, "moderator")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    services.moderators_chat_id = None
    await group.press(GROUP, "Spam", user=ALICE)
    assert await _state(group.sessions, tip.id) == ("received", 0)


# --- linking ----------------------------------------------------------------------------------


async def test_a_link_code_works_once_in_private_and_moves_the_telegram_account(group):
    first = await _staff(group.sessions, "moderator", "first@example.org")
    second = await _staff(group.sessions, "moderator", "second@example.org")
    code = await _link(group, first, ALICE, where=ALICE)
    assert group.last_text(ALICE) == "Linked: your presses on tip cards now count as first."
    await group.send(group.fake.command(ALICE, "link", code, user=ALICE))
    assert group.last_text(ALICE).startswith("This code is not valid")
    await _link(group, second, ALICE, where=ALICE)
    async with group.sessions() as session:
        linked = {
            s.email: s.telegram_user_id for s in (await session.scalars(select(StaffUser))).all()
        }
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert linked == {"first@example.org": None, "second@example.org": ALICE}
    assert actions.count("staff.telegram_linked") == 2


async def test_after_unlinking_presses_stop_counting(group, services):
    alice = await _staff(group.sessions, "moderator")
    await _link(group, alice, ALICE)
    tip = await _card_in_group(group, services)
    async with group.sessions() as session:
        await unlink_telegram(session, staff=await session.get(StaffUser, alice.id))
    await group.press(GROUP, "Spam", user=ALICE)
    assert _answers(group)[-1].startswith("Link your Telegram account")
    assert await _state(group.sessions, tip.id) == ("received", 0)


async def test_wrong_codes_are_refused_and_throttled(group):
    alice = await _staff(group.sessions, "moderator")
    for _ in range(5):
        await group.send(group.fake.command(GROUP, "link", "WRONG-CODE1", user=ALICE))
        assert group.last_text(GROUP).startswith("This code is not valid")
    async with group.sessions() as session:
        code = await create_link_code(session, staff=await session.get(StaffUser, alice.id))
    await group.send(group.fake.command(GROUP, "link", code, user=ALICE))
    assert group.last_text(GROUP) == "Too many codes tried. Please wait 15 minutes."


async def test_link_is_ignored_in_a_group_that_is_not_the_moderators(group):
    alice = await _staff(group.sessions, "moderator")
    group.fake.state.chats.new_message(OTHER_GROUP, {"text": "hello"})
    await _link(group, alice, ALICE, where=OTHER_GROUP)
    assert group.messages(OTHER_GROUP) == []
    async with group.sessions() as session:
        assert (await session.get(StaffUser, alice.id)).telegram_user_id is None


# --- volume -----------------------------------------------------------------------------------


async def test_more_than_twenty_cards_a_minute_become_one_digest(group, services):
    tips = [await _tip(group.sessions, services, score=61 + i) for i in range(25)]
    async with group.sessions() as session:
        done = await announce(session, settings=card_settings())
    assert (done.cards, done.digested) == (0, 25)
    [row] = await _outbox(group.sessions)
    assert "buttons" not in row.payload
    await _deliver(group, services)
    digest = group.last_text(GROUP)
    assert digest.startswith("25 new high-scoring tips") and f"{BASE}/tips" in digest
    best = sorted(tips, key=lambda t: -t.score)
    assert all(t.ref in digest for t in best[:5]) and not any(t.ref in digest for t in best[5:])

    # The next tips while the flood lasts wait for the next digest, not one card each.
    more = [await _tip(group.sessions, services, score=70) for _ in range(21)]
    async with group.sessions() as session:
        assert await announce(session, settings=card_settings()) == type(done)(0, 0)
        later = await announce(session, settings=card_settings(digest_every=timedelta(0)))
    assert (later.cards, later.digested) == (0, len(more))


async def test_twenty_cards_fit_and_urgent_tips_keep_their_card_in_digest_mode(sessions, services):
    for _ in range(20):
        await _tip(sessions, services, score=65)
    async with sessions() as session:
        assert (await announce(session, settings=card_settings())).cards == 20
    urgent = await _tip(sessions, services, score=10, urgent=True)
    await _tip(sessions, services, score=90)
    async with sessions() as session:
        done = await announce(session, settings=card_settings(per_minute=21))
    assert (done.cards, done.digested) == (1, 1)
    texts = [row.payload["text"] for row in await _outbox(sessions)]
    assert urgent.ref in texts[-2] and texts[-1].startswith("1 new high-scoring tips")
