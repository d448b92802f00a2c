"""/start (plain, a family's link code, a case's report link), the main menu, /help and /cancel."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Texts
from handlers.context import BotServices
from handlers.engine.channel import Keyboard, button, keyboard
from handlers.engine.keys import shared
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.tipster.family import FAMILY_PREFIX, link_family_code
from storage.models import Tipster

MENU = "m"
"""Menu buttons: m:report, m:check, m:about."""
CASE_PREFIX = "case_"


@shared
def main_menu(texts: Texts) -> Keyboard:
    """Report a sighting / Check a tip / About & privacy."""
    return keyboard(
        [button(texts("menu.report"), MENU, "report")],
        [button(texts("menu.check"), MENU, "check")],
        [button(texts("menu.about"), MENU, "about")],
    )


async def start(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    argument: str | None,
) -> None:
    """/start with what its link carried: a family's code links the case, a case's code starts
    a report about it, anything else (or nothing) shows the main menu."""
    argument = argument or ""
    lowered = argument.lower()
    if lowered.startswith(FAMILY_PREFIX):
        code = argument[len(FAMILY_PREFIX) :]
        await link_family_code(conversation, session, services=services, tipster=tipster, code=code)
    elif lowered.startswith(CASE_PREFIX):
        await report_about_case(conversation, session, code=argument[len(CASE_PREFIX) :])
    else:
        await conversation.say(conversation.texts("start.welcome"), main_menu(conversation.texts))


async def report_about_case(
    conversation: Conversation, session: AsyncSession, *, code: str
) -> None:
    """A report about one case (a poster's link, a case card's or an alert's button); a report
    in progress is kept and now names this case."""
    await (await Turn.of(conversation)).about_code(session, code)


async def begin_report(conversation: Conversation, session: AsyncSession) -> None:
    """Report a sighting (or carry on with the one in progress)."""
    await (await Turn.of(conversation)).start_or_resume(session)


async def about(conversation: Conversation) -> None:
    """About Tipline and privacy."""
    await conversation.say(conversation.texts("about.text"))


async def show_help(conversation: Conversation) -> None:
    """What the bot understands."""
    await conversation.say(conversation.texts("help.text"))


async def cancel(conversation: Conversation) -> None:
    """Cancel whatever is going on; nothing is sent."""
    await (await Turn.of(conversation)).cancel()
