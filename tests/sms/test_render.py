"""A flow's question and buttons as numbered choices within three segments, and a typed
number back to the button's data (pure functions)."""

from __future__ import annotations

import pytest

from core.i18n import Texts
from core.sms.render import MAX_SEGMENTS, choice, pages, render
from core.sms.segments import size
from handlers.engine.channel import button, keyboard
from handlers.engine.keys import nav_row

EN, ZH = Texts("en"), Texts("zh-Hans")


def _rows(buttons):
    return [[(b.label, b.data) for b in row] for row in buttons]


def _when(texts: Texts):
    return _rows(
        keyboard(
            [button("Now", "r", "when", "now"), button("Earlier today", "r", "when", "today")],
            [button("Yesterday", "r", "when", "yesterday")],
            nav_row(texts, "r", "when"),
        )
    )


def test_buttons_become_numbered_choices_with_back_as_zero():
    menu = render(EN, "When did you see the child?", _when(EN))
    assert menu.body == (
        "When did you see the child?\n1 Now\n2 Earlier today\n3 Yesterday\n4 Cancel\n"
        "0 Back\nReply with a number, 0 to go back."
    )
    assert menu.choices == {
        "1": "r:when:now",
        "2": "r:when:today",
        "3": "r:when:yesterday",
        "4": "r:when:cancel",
        "0": "r:when:back",
    }


def test_without_a_back_button_the_hint_does_not_mention_zero():
    menu = render(EN, "Is this the child?", [[("Yes", "r:y"), ("No", "r:n")]])
    assert menu.body.endswith("1 Yes\n2 No\nReply with a number.")


def test_a_text_without_buttons_is_sent_as_it_is_with_no_menu():
    menu = render(EN, "Thank you. Your reference is K7Q2.")
    assert (menu.body, menu.choices) == ("Thank you. Your reference is K7Q2.", {})


@pytest.mark.parametrize(
    ("reply", "data"),
    [
        ("2", "r:when:today"),
        (" 2 ", "r:when:today"),
        ("２", "r:when:today"),
        ("02", "r:when:today"),
        ("2.", "r:when:today"),
        ("0", "r:when:back"),
    ],
)
def test_a_typed_number_is_that_buttons_press(reply, data):
    assert choice(reply, render(EN, "When?", _when(EN)).choices) == data


@pytest.mark.parametrize("reply", ["9", "People's Square", "2 hours ago", "", "-1", "1000"])
def test_anything_else_is_text_for_the_flow(reply):
    assert choice(reply, render(EN, "When?", _when(EN)).choices) is None


def test_a_long_question_is_cut_at_a_word_and_every_choice_stays_whole():
    question = "Where did you see the child? " + "Tell us the street, the shop, the bus stop. " * 20
    menu = render(EN, question, _when(EN))
    assert size(menu.body).segments == MAX_SEGMENTS
    assert size(menu.body).encoding == "GSM-7"
    first = menu.body.split("\n")[0]
    assert first.startswith("Where did you see the child?") and first.endswith("...")
    assert "\n1 Now\n2 Earlier today\n3 Yesterday\n4 Cancel\n0 Back\n" in menu.body


def test_long_labels_are_shortened_when_cutting_the_question_is_not_enough():
    places = [
        button(f"{name} Street, near the {name} Market and the bus station", "p", str(i))
        for i, name in enumerate(
            ["North", "South", "East", "West", "Central", "Old", "New", "River", "Hill", "Lake"]
        )
    ]
    menu = render(EN, "Which of these places?", _rows(keyboard(*[[b] for b in places])))
    assert size(menu.body).segments <= MAX_SEGMENTS
    lines = menu.body.split("\n")
    assert [line.split(" ")[0] for line in lines[1:11]] == [str(n) for n in range(1, 11)]
    assert all(len(line) <= len("10 ") + 24 for line in lines[1:11])


def test_chinese_goes_as_ucs2_and_still_fits_three_segments():
    question = "您是什么时候看到这个孩子的？请尽量准确地告诉我们时间，这对寻找孩子非常重要。" * 3
    menu = render(ZH, question, _when(ZH))
    measured = size(menu.body)
    assert (measured.encoding, measured.segments) == ("UCS-2", MAX_SEGMENTS)
    assert menu.body.endswith("\n0 返回\n请回复数字，回复0返回。")
    assert set(menu.choices) == {"0", "1", "2", "3", "4"}


def test_curly_quotes_do_not_make_an_english_menu_ucs2():
    menu = render(EN, "Is this the child you’ve seen… “Lily”?", _when(EN))
    assert size(menu.body).encoding == "GSM-7"


def test_a_question_too_long_to_fit_whole_goes_ahead_in_texts_of_its_own():
    lines = [f"Field {n}: " + "word " * 20 for n in range(12)]
    question = "\n".join([*lines, "Is everything right?"])
    lead, menu = pages(EN, question, _when(EN))
    assert "\n".join([*lead, menu.body]).startswith(question) and len(lead) > 1
    assert all(size(text).segments <= MAX_SEGMENTS for text in [*lead, menu.body])
    assert menu.body.endswith(
        "\n".join(["3 Yesterday", "4 Cancel", "0 Back", EN("sms.reply_back")])
    )


def test_a_question_that_fits_goes_whole_with_its_menu():
    assert pages(EN, "When?", _when(EN)) == ([], render(EN, "When?", _when(EN)))
