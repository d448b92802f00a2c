"""The conversation engine on its own: a flow's state names, its data under its own key, one read
and one write per update, and one cut to the channel's text limit (an in-memory store and a
channel that records what it is asked to send)."""

from __future__ import annotations

from core.i18n import Texts
from handlers.alerts.flow import ALERTS
from handlers.engine.channel import button, keyboard
from handlers.engine.wizard import Conversation
from handlers.newcase.flow import NEWCASE, CaseTurn
from handlers.report.flow import REPORT, Turn
from handlers.report.state import Talk
from tests.handlers.chat import Recorder, Store


def _conversation(store: Store, channel: Recorder | None = None) -> Conversation:
    return Conversation(store, channel or Recorder(), 7, Texts("en"), store.state)


def test_state_names_map_to_views_and_steps_of_their_own_flow_only():
    assert REPORT.view_of("Report:when_time") == "when_time"
    assert REPORT.step_of("Report:when_time") == "when"
    assert REPORT.view_of("NewCase:when_time") is None
    assert NEWCASE.step_of("NewCase:where_pick") == "where"
    assert NEWCASE.after("when_day") == "where"
    assert ALERTS.state_of("area_pick") == "Volunteering:area_pick"


def test_older_data_is_read_through_each_flows_legacy_hook_and_bad_data_starts_afresh():
    legacy_report = {"draft": {"text": "a boy"}, "done": ["what"], "other": 1}
    talk = REPORT.load(legacy_report)
    assert talk is not None and talk.draft is not None and talk.draft.text == "a boy"
    chosen = ALERTS.load({"vol_radius": 25.0, "vol_language": "zh-Hans", "vol_editing": None})
    assert chosen is not None and (chosen.radius, chosen.language) == (25.0, "zh-Hans")
    assert ALERTS.load({}) is None
    assert NEWCASE.load({"newcase": {"kind": "neither"}}) is None


async def test_an_update_reads_the_data_once_and_writes_state_and_data_once():
    store = Store()
    conversation = _conversation(store)
    report = await Turn.of(conversation)
    report.talk.mark("what")
    case = await CaseTurn.of(conversation)
    case.replace(None)
    await report.ask("when")
    await report.ask("where")
    assert store.reads == 1 and store.writes == 0  # nothing written before the handler ends
    await conversation.save()
    assert store.state == "Report:where"
    assert store.reads == 1 and store.writes == 2  # the state name once, the data once
    assert store.data["report"]["done"] == ["what"] and store.data["newcase"] is None


async def test_each_flow_keeps_its_own_key_so_one_does_not_drop_another():
    store = Store(data={"newcase": {"last_draft": "d1", "last_ref": "ABCD-EFGH"}})
    conversation = _conversation(store)
    (await Turn.of(conversation)).talk.mark("what")
    await conversation.save()
    assert store.data["newcase"]["last_ref"] == "ABCD-EFGH"
    assert Talk.model_validate(store.data["report"]).done == ["what"]


async def test_text_is_cut_to_the_channels_limit_in_one_place():
    channel = Recorder()
    conversation = _conversation(Store(), channel)
    await conversation.say("x" * 80, keyboard([button("Yes", "p", "contact", "yes")], []))
    [(text, buttons)] = channel.sent
    assert text == "x" * 49 + "…"
    assert buttons == ((button("Yes", "p", "contact", "yes"),),)


def test_each_flows_views_are_the_states_telegram_routes_on():
    from handlers.telegram.states import NewCase, Report, Volunteering

    for flow, group in ((REPORT, Report), (NEWCASE, NewCase), (ALERTS, Volunteering)):
        assert {flow.state_of(view) for view in flow.views} == {state.state for state in group}


async def test_with_an_update_id_the_data_records_it_and_the_same_update_is_not_applied_again():
    store = Store()
    first = Conversation(store, Recorder(), 7, Texts("en"), None, update_id=10)
    assert not await first.applied()
    await (await Turn.of(first)).ask("when")
    await first.save()
    assert store.state == "Report:when"
    store.state = None  # a crash fell between the data's write and the state name's
    again = Conversation(store, Recorder(), 7, Texts("en"), store.state, update_id=10)
    assert await again.applied() and store.state == "Report:when"  # the name put back
    later = Conversation(store, Recorder(), 7, Texts("en"), store.state, update_id=11)
    assert not await later.applied()


async def test_without_an_update_id_nothing_is_recorded_and_a_state_change_writes_no_data():
    store = Store()
    conversation = Conversation(store, Recorder(), 7, Texts("en"), None)
    conversation.go("Report:what")
    await conversation.save()
    assert store.state == "Report:what" and store.data == {} and not await conversation.applied()
