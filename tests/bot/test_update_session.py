"""The commit bookkeeping runs in the inbox processor's sessions only, never process-wide."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from bot import fsm, tipsters
from bot.update_session import UpdateSession
from tests.private_names import project_modules

HOOKS: list[tuple[str, Callable[..., Any]]] = [
    ("before_flush", tipsters.note_changes),
    ("before_commit", fsm.write_changed_states),
    ("after_commit", fsm.cache_written_states),
    ("after_commit", tipsters.forget_changed),
    ("after_rollback", fsm.forget_unwritten_states),
    ("after_rollback", tipsters.drop_changes),
]
ON_SESSION = re.compile(r"\b(listens_for|listen)\(\s*(Session|sessionmaker|AsyncSession)\b")


@pytest.mark.parametrize(("name", "hook"), HOOKS, ids=[f"{n}-{h.__name__}" for n, h in HOOKS])
def test_each_hook_listens_on_the_processors_session_class_alone(name, hook):
    assert event.contains(UpdateSession, name, hook)
    assert not event.contains(Session, name, hook)


def test_no_project_module_listens_on_every_session_of_the_process():
    found = [
        f"{path}: {match.group(0)}"
        for path, _ in project_modules()
        for match in ON_SESSION.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
