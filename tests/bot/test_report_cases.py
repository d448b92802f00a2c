"""Which child: poster deep links, names and codes, cases near a point, and "I don't know"."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Case
from tests.bot.fixtures import all_tips, assert_all_processed, fsm_state, seed_case

CHAT = 3301


async def _send_minimal(chat, fake) -> None:
    await chat.send(fake.text_message(CHAT, "Saw a girl matching the poster"))
    await chat.press(CHAT, "I don't know")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    await chat.press(CHAT, "Send report")


async def test_a_poster_deep_link_starts_a_report_for_that_active_case(chat, fake, sessions):
    case = await seed_case(sessions, "Mei Chen")
    await chat.send(fake.command(CHAT, "start", f"case_{case.ref}"))
    reply = chat.last_text(CHAT)
    assert f"You are reporting about Mei Chen ({case.ref})." in reply
    assert "What did you see?" in reply
    await _send_minimal(chat, fake)
    [tip] = await all_tips(chat.sessions)
    assert tip.case_id == case.id and tip.details["case_unknown"] is False
    await assert_all_processed(chat)


async def test_a_deep_link_to_an_unverified_case_is_not_offered(chat, fake, sessions):
    await seed_case(sessions, "Public Child")
    hidden = await seed_case(sessions, "Unverified Child", status="submitted")
    await chat.send(fake.command(CHAT, "start", f"case_{hidden.ref.lower().replace('-', '')}"))
    reply = chat.last_text(CHAT)
    assert "could not find an open case" in reply and "Unverified Child" not in reply
    assert "What did you see?" in reply
    await _send_minimal(chat, fake)
    [tip] = await all_tips(chat.sessions)
    assert tip.case_id is None and tip.details["case_unknown"] is True


async def test_typing_a_name_offers_only_public_cases_and_the_pick_sticks(chat, fake, sessions):
    active = await seed_case(sessions, "Mei Chen")
    await seed_case(sessions, "Mei Lin", status="submitted")
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    assert "Which child is this about?" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "mei"))
    labels = [label for label, _ in chat.buttons(CHAT)]
    assert f"Mei Chen ({active.ref})" in labels
    assert not any("Mei Lin" in label for label in labels)
    await chat.press(CHAT, "Mei Chen")
    assert "What did you see?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Back")
    assert "Which child" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "nobody by this name"))
    assert "No open case matches “nobody by this name”" in chat.last_text(CHAT)
    await chat.press(CHAT, "Cancel")
    assert await fsm_state(chat, CHAT) is None


async def test_no_public_cases_skips_straight_to_what(chat, fake, sessions):
    await seed_case(sessions, "Only Unverified", status="submitted")
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    assert "What did you see?" in chat.last_text(CHAT)


async def test_cases_near_a_shared_location(chat, fake, sessions):
    near = await seed_case(sessions, "Near Child", lat=34.30, lon=108.90)
    farther = await seed_case(sessions, "Farther Child", lat=34.60, lon=108.95)  # ~38 km
    await seed_case(sessions, "Far Child", lat=39.90, lon=116.40)  # Beijing, ~900 km away
    await seed_case(sessions, "Hidden Near", status="closed", lat=34.26, lon=108.94)
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    await chat.press(CHAT, "Cases near a location")
    assert "Share a location" in chat.last_text(CHAT)
    await chat.send(fake.location_message(CHAT, 34.26, 108.94))
    # Resolved offline to the nearest town, nearest case first, each saying how far it is.
    assert "Children last seen within 100 km of Xi" in chat.last_text(CHAT)
    labels = [label for label, _ in chat.buttons(CHAT)]
    assert labels[:2] == [
        f"Near Child ({near.ref}) · 6 km",
        f"Farther Child ({farther.ref}) · 38 km",
    ]
    assert not any("Far Child" in label or "Hidden" in label for label in labels)
    await chat.press(CHAT, "Near Child")
    await chat.send(fake.text_message(CHAT, "Same jacket as on the poster"))
    await chat.press(CHAT, "Now")
    assert "Where did you see this?" in chat.last_text(CHAT)  # the search point is not the place
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    assert f"Child: Near Child ({near.ref})" in chat.last_text(CHAT)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.case_id == near.id and tip.lat is None


async def test_i_dont_know_which_child(chat, fake, sessions):
    await seed_case(sessions, "Some Child")
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    await chat.press(CHAT, "I don't know which child")
    await _send_minimal(chat, fake)
    [tip] = await all_tips(chat.sessions)
    assert tip.case_id is None and tip.details["case_unknown"] is True
    async with sessions() as session:
        assert len((await session.scalars(select(Case))).all()) == 1
