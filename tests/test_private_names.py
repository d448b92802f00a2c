"""No project module uses a third-party library's private (`_name`) names.

The walk is tests/private_names.py."""

from __future__ import annotations

import pytest

from tests.private_names import project_uses, uses_in_source

# The one adapter allowed to reach into a library, pinned by an upper bound in pyproject.toml
# and by tests/storage/test_sqlite_driver.py (which fails when an upgrade moves what it uses).
ADAPTERS = {"storage/sqlite_driver.py"}


def test_no_project_module_uses_a_third_party_private_name():
    uses = [str(use) for use in project_uses() if use.path not in ADAPTERS]
    assert uses == []


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy.util import _collections",
        "from aiogram.client.session._base import X",
        "import aiosqlite._core",
        "import sqlalchemy\nsqlalchemy.util._hidden()",
        "from sqlalchemy import orm\norm.session._sessions",
        "from sqlalchemy.ext.asyncio import AsyncSession as S\nS._maker",
    ],
)
def test_private_imports_and_attributes_of_libraries_are_found(source):
    assert len(uses_in_source(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        # the project's own
        "from tests.fakes.telegram.server import FakeTelegram\nFakeTelegram._record",
        "import sys\nsys._getframe()",  # the standard library's
        "from aiogram.methods import TelegramMethod\nTelegramMethod.__returning__",  # a dunder
        "class C:\n    def f(self):\n        return self._mine",
    ],
)
def test_project_stdlib_and_dunder_names_are_not_flagged(source):
    assert uses_in_source(source) == []


def test_a_subclass_reaching_into_its_library_base_is_found(tmp_path, monkeypatch):
    source = (
        "from aiogram.client.session.aiohttp import AiohttpSession\n"
        "class Session(AiohttpSession):\n"
        "    def build_form_data(self, bot, method):\n"
        "        return self.prepare_value(1, bot=bot, files={}, _dumps_json=False)\n"
        "    async def close(self):\n"
        "        self._session = None\n"
    )
    (tmp_path / "reaching_session.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    uses = uses_in_source(source, module="reaching_session")
    assert sorted(use.line for use in uses) == [4, 6]
