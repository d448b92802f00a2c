"""The private-chat commands without Telegram: /start with its links, /status, /language,
/forget and a family's feedback, called as a WhatsApp or SMS router would call them (a tipster
known by a phone number's keyed hash, a channel that records what it would send), on a real
database."""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession

from core.geo import GeocodingService, build_geocoder
from core.i18n import Texts
from core.identity.tipsters import get_or_create_tipster
from core.identity.vault import Vault
from core.tips.drafts import Draft
from core.tips.submission import submit_tip
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.tipster.family import family_feedback
from handlers.tipster.forget import decide_forget
from handlers.tipster.language import switch_language
from handlers.tipster.start import start
from handlers.tipster.status import show_status
from storage.models import Tipster
from storage.repositories import TipsterRepository
from tests.handlers.chat import Recorder, Store

EN = Texts("en")


@cache
def _geocoder() -> GeocodingService:
    return build_geocoder(user_agent="tipline-test")


def _services() -> BotServices:
    return BotServices(vault=Vault(Vault.new_key()), geocoder=_geocoder())


def _chat(language: str = "en") -> tuple[Conversation, Recorder]:
    channel = Recorder(text_limit=4096)
    return Conversation(Store(), channel, 7, Texts(language), None), channel


async def _tipster(session: AsyncSession, services: BotServices, number: str) -> Tipster:
    return await get_or_create_tipster(
        session,
        services.vault,
        channel="whatsapp",
        external_id=number,
        identity={"phone": number},
        language="en",
    )


async def test_start_shows_the_menu_and_its_links_reach_a_family_code_or_a_case(session):
    services = _services()
    tipster = await _tipster(session, services, "+15550100001")
    conversation, channel = _chat()
    await start(conversation, session, services=services, tipster=tipster, argument=None)
    [(welcome, menu)] = channel.sent
    assert welcome == EN("start.welcome")
    assert menu is not None and [row[0].data for row in menu] == ["m:report", "m:check", "m:about"]
    await start(conversation, session, services=services, tipster=tipster, argument="family_NOPE")
    assert channel.sent[-1] == (EN("family.link_invalid"), None)
    await start(conversation, session, services=services, tipster=tipster, argument="case_ZZZZ")
    assert channel.sent[-1][0].startswith(EN("report.case_not_found", code="ZZZZ"))
    assert conversation.state is not None and conversation.state.startswith("Report:")


async def test_status_answers_ones_own_tip_and_tells_a_stranger_nothing(session):
    services = _services()
    tipster = await _tipster(session, services, "+15550100002")
    stranger = await _tipster(session, services, "+15550100003")
    conversation, channel = _chat()
    await show_status(conversation, session, tipster=tipster, argument=None)
    assert channel.sent[-1] == (EN("status.none"), None)
    receipt = await submit_tip(
        session,
        draft=Draft(text="A girl with a white dog by the station"),
        channel="whatsapp",
        source_key="whatsapp:test-status",
        tipster_id=tipster.id,
        language="en",
    )
    await show_status(conversation, session, tipster=tipster, argument=receipt.ref)
    assert receipt.ref in channel.sent[-1][0] and EN("status.next") in channel.sent[-1][0]
    await show_status(conversation, session, tipster=stranger, argument=receipt.ref)
    assert channel.sent[-1] == (EN("status.not_found"), None)


async def test_language_is_kept_and_confirmed_in_the_new_language(session):
    services = _services()
    tipster = await _tipster(session, services, "+15550100004")
    conversation, channel = _chat()
    await switch_language(conversation, session, tipster=tipster, code="zh-Hans")
    assert channel.sent == [(Texts("zh-Hans")("language.set"), None)]
    assert tipster.language == "zh-Hans"


async def test_forget_erases_the_identity_only_on_yes(session):
    services = _services()
    tipster = await _tipster(session, services, "+15550100005")
    conversation, channel = _chat()
    await decide_forget(conversation, session, services=services, tipster=tipster, action="no")
    assert channel.sent[-1] == (EN("forget.kept"), None)
    assert await TipsterRepository(session).get_identity(tipster_id=tipster.id) is not None
    await decide_forget(conversation, session, services=services, tipster=tipster, action="yes")
    assert channel.sent[-1] == (EN("forget.done"), None)
    assert await TipsterRepository(session).get_identity(tipster_id=tipster.id) is None


async def test_feedback_on_a_lead_one_was_never_sent_is_refused_kindly(session):
    services = _services()
    tipster = await _tipster(session, services, "+15550100006")
    conversation, channel = _chat()
    for answer in ("mine", "scam"):
        await family_feedback(
            conversation, session, services=services, tipster=tipster, forward_id=999, answer=answer
        )
        assert channel.sent[-1] == (EN("family.unknown_lead"), None)
