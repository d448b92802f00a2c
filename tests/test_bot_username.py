"""The bot's @username from getMe over plain HTTP, and a web process that imports no aiogram."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fakes.telegram.server import FakeTelegram
from tipline.bot_username import GetMeRefused, get_username


async def test_the_username_comes_from_get_me() -> None:
    async with FakeTelegram(bot_username="missing_kids_bot") as fake:
        assert await get_username(api_base=fake.base_url, token=fake.token) == "missing_kids_bot"


async def test_a_refused_get_me_names_the_status_and_never_the_token() -> None:
    async with FakeTelegram() as fake:
        wrong = fake.token + "x"
        with pytest.raises(GetMeRefused, match="401") as refused:
            await get_username(api_base=fake.base_url, token=wrong)
    assert wrong not in str(refused.value)


def test_the_composition_root_leaves_aiogram_to_the_bot_and_worker_roles() -> None:
    """Building aiogram's types takes seconds of CPU: a restarted web process skips them."""
    probe = (
        "import sys, tipline.app; print([m for m in ('aiogram', 'handlers') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
