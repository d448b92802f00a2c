"""On SMS too, a text beyond the overall rate of chat messages is kept and answered later, and
the person is told so once, in their language, in one text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.i18n import Texts
from core.limits import MemoryRateLimiter, parse_rates
from core.sms.segments import size
from handlers.context import Limits
from tests.chat_workers import Clock, Later
from tests.sms.chats import sms_line

EN, ZH = Texts("en", "sms"), Texts("zh-Hans", "sms")


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with sms_line(engine, sessions, tmp_path) as line:
        yield line


async def test_a_text_beyond_the_overall_rate_is_kept_and_answered_later(line):
    clock = Clock()
    services = line.processor.services
    services.limiter = MemoryRateLimiter(clock=clock)
    services.limits = Limits(overall=parse_rates("2/1h"))  # one text opening a conversation
    (when,) = await line.texts("A girl in a red coat with a man, crying")
    assert EN("report.ask_when") in when

    line.phone = "+8613800003333"
    line.processor.clock = later = Later()
    later.at += timedelta(seconds=5)  # past the text's arrival: due
    (kept,) = await line.texts("我看到一个穿红外套的女孩")
    assert kept == ZH("limits.busy") and size(kept).segments == 1
    clock.now += 3600
    later.at += timedelta(hours=1)
    (asked,) = await line.settle()
    assert ZH("report.ask_when") in asked
