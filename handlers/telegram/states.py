"""Conversation states: the report's steps, adding to a sent tip, answering a moderator, /newcase
and /alerts (the names the engine's flows use as their state groups)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Report(StatesGroup):
    """A sighting report, step by step (input out of order is still taken)."""

    case = State()
    what = State()
    when = State()
    when_time = State()
    when_day = State()
    where = State()
    where_pick = State()
    media = State()
    contact = State()
    confirm = State()


class Adding(StatesGroup):
    """/add REF: what the tipster sends goes onto their sent tip until Done."""

    tip = State()


class Answering(StatesGroup):
    """A moderator asked something; the tipster's next text is the answer."""

    tip = State()


class NewCase(StatesGroup):
    """/newcase: registering a missing child, or a found person looking for family."""

    kind = State()
    name = State()
    nicknames = State()
    sex = State()
    born = State()
    marks = State()
    languages = State()
    when = State()
    when_time = State()
    when_day = State()
    where = State()
    where_pick = State()
    circumstances = State()
    police = State()
    contact = State()
    photos = State()
    confirm = State()


class Volunteering(StatesGroup):
    """Signing up for area alerts, or changing one setting."""

    area = State()
    area_pick = State()
    radius = State()
    language = State()
    quiet = State()
    confirm = State()
