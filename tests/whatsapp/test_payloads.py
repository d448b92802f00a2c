"""WhatsApp payload builders keep Meta's limits (pure logic)."""

from __future__ import annotations

import pytest

from core.whatsapp import payloads


def test_long_button_titles_are_cut_to_twenty_characters():
    part = payloads.buttons("Where?", [("place:1", "People's Square, Huangpu District")])
    assert part["choices"] == [["place:1", "People's Square, Hu…"]]
    assert len(part["choices"][0][1]) == 20


@pytest.mark.parametrize("count", [0, 4])
def test_reply_buttons_are_one_to_three(count):
    with pytest.raises(ValueError, match=r"1\.\.3"):
        payloads.buttons("?", [(str(i), "t") for i in range(count)])


def test_a_list_holds_at_most_ten_rows():
    with pytest.raises(ValueError, match=r"1\.\.10"):
        payloads.choice_list("?", "Choose", [(str(i), "t") for i in range(11)])


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("tipline_unknown", ["x"]),
        ("tipline_family_lead", ["only one"]),
        ("tipline_tipster_notice", ["a\nb"]),
    ],
)
def test_templates_are_ours_with_their_parameters(name, parameters):
    with pytest.raises(ValueError):
        payloads.template(name, "en", parameters)


def test_template_languages_map_to_metas_codes():
    assert payloads.template("tipline_tipster_notice", "zh-Hans", ["ok"])["language"] == "zh_CN"
    assert payloads.template("tipline_tipster_notice", "fr", ["ok"])["language"] == "en"
