"""A tipster over their message rate is told once a minute, politely; the rest is dropped.

Beyond the overall rate of incoming chat messages (every tipster, every chat channel), a
message is not dropped: it waits in its inbox and is handled when the rate has room, and its
tipster is told once a minute that it is kept. Messages that open a conversation (or come with
none under way) may take only half of the overall rate: the other half stays for people already
in one, so a flood of new accounts never holds up someone mid-report.
"""

from __future__ import annotations

from core.limits import Rate, RateLimiter, admit_rates, refund_rates
from core.metrics import CHAT_DEFERRALS
from handlers.context import BotServices
from handlers.engine.wizard import Conversation

OVERALL_KEY = "chat-messages"
OPENING_KEY = "chat-messages-opening"


def message_key(tipster_id: int) -> str:
    """The limiter key of a tipster's own message rate."""
    return f"msg:{tipster_id}"


async def slow_down(conversation: Conversation, *, notify: bool) -> None:
    """Say 'slow down' when the limiter says it is time to (`notify`: once a minute)."""
    if notify:
        await conversation.say(conversation.texts("limits.slow_down"))


async def overall_wait(services: BotServices, *, tipster_id: int, under_way: bool) -> float:
    """0 when a message within its tipster's rate may be handled now (it is counted); else the
    seconds until the overall rate has room for it.

    A conversation under way may use the whole overall rate; any other message half of it. A
    message held back gives its tipster's own hit back: it is counted when it comes again.
    """
    rates = services.limits.overall
    if not rates:
        return 0.0
    limiter = services.limiter
    opening = () if under_way else tuple(Rate(max(1, r.limit // 2), r.window) for r in rates)
    wait = await admit_rates(limiter, OPENING_KEY, opening)
    if not wait:
        wait = await admit_rates(limiter, OVERALL_KEY, rates)
        if wait:
            await refund_rates(limiter, OPENING_KEY, opening)
    if wait:
        await limiter.refund(message_key(tipster_id))
    return wait


async def kept_for_later(
    conversation: Conversation, limiter: RateLimiter, *, tipster_id: int, channel: str
) -> None:
    """Count a held-back message; tell its tipster it is kept (once a minute)."""
    CHAT_DEFERRALS.labels(channel=channel).inc()
    if await limiter.hit(f"busy-notice:{tipster_id}", limit=1, window=60):
        await conversation.say(conversation.texts("limits.busy"))
