"""Outbox payloads for WhatsApp, and the approved templates that reach people outside the
24-hour customer-service window (their texts: docs/whatsapp.md).

A payload is `{"free": <free-form message>, "template": <template or null>}`: the sender sends
the free-form message inside the window and the template outside it (or when Meta answers
131047). A payload without a template is sent only inside the window.
"""

from __future__ import annotations

from typing import Any

TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024
INTERACTIVE_LIMIT = 1024  # the body of reply buttons, of a list and of a location request
MAX_BUTTONS, BUTTON_TITLE = 3, 20
MAX_ROWS, ROW_TITLE, ROW_DESCRIPTION, ID_LIMIT = 10, 24, 72, 200
FAMILY_LEAD, TIPSTER_NOTICE, AREA_ALERT = (
    "tipline_family_lead",
    "tipline_tipster_notice",
    "tipline_area_alert",
)
# Template name -> how many body parameters it takes ({{1}}, {{2}}...). Registered with Meta
# under these names in both languages.
TEMPLATES = {
    FAMILY_LEAD: 2,  # case code, lead summary
    TIPSTER_NOTICE: 1,  # the notice
    AREA_ALERT: 3,  # child's name, area, case code
}
# Our languages -> Meta's template language codes.
LANGUAGES = {"en": "en", "zh-Hans": "zh_CN"}


def text(body: str) -> dict[str, Any]:
    """A free-form text."""
    return {"type": "text", "text": _text(body, TEXT_LIMIT)}


def buttons(
    body: str, choices: list[tuple[str, str]], *, image: str | None = None
) -> dict[str, Any]:
    """A text with up to 3 reply buttons, (id, title) pairs, under our display copy `image`
    (a photo header) if given."""
    if not 1 <= len(choices) <= MAX_BUTTONS:
        raise ValueError(f"WhatsApp allows 1..{MAX_BUTTONS} reply buttons")
    part = {
        "type": "buttons",
        "text": _text(body, INTERACTIVE_LIMIT),
        "choices": _choices(choices, BUTTON_TITLE),
    }
    if image is not None:
        part["display_sha256"] = _display_sha(image)
    return part


def choice_list(body: str, label: str, choices: list[tuple[str, str]]) -> dict[str, Any]:
    """A text with a list of up to 10 rows behind a button labelled `label`; a row whose title
    is cut shows the whole of it (to 72 characters) as its description."""
    if not 1 <= len(choices) <= MAX_ROWS:
        raise ValueError(f"WhatsApp allows 1..{MAX_ROWS} list rows")
    rows = _choices(choices, ROW_TITLE)
    for row, (_, title) in zip(rows, choices, strict=True):
        if row[1] != title:
            row.append(_cut(title, ROW_DESCRIPTION))
    return {
        "type": "list",
        "text": _text(body, INTERACTIVE_LIMIT),
        "label": _text(label, BUTTON_TITLE),
        "choices": rows,
    }


def location_request(body: str) -> dict[str, Any]:
    """A text with WhatsApp's "Send location" button."""
    return {"type": "location_request", "text": _text(body, INTERACTIVE_LIMIT)}


def image(display_sha: str, caption: str = "") -> dict[str, Any]:
    """OUR clean display copy of a photo (never a tipster's media id)."""
    if len(caption) > CAPTION_LIMIT:
        raise ValueError(f"a caption is at most {CAPTION_LIMIT} characters")
    return {"type": "image", "display_sha256": _display_sha(display_sha), "caption": caption}


def template(name: str, language: str, parameters: list[str]) -> dict[str, Any]:
    """One of our approved templates, with its body parameters."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}")
    if len(parameters) != TEMPLATES[name]:
        raise ValueError(f"template {name} takes {TEMPLATES[name]} parameters")
    if any(not p.strip() or "\n" in p or len(p) > 1024 for p in parameters):
        raise ValueError("template parameters are one line each, 1..1024 characters")
    return {"name": name, "language": LANGUAGES.get(language, "en"), "parameters": parameters}


def message(free: dict[str, Any], fallback: dict[str, Any] | None = None) -> dict[str, Any]:
    """The outbox payload: the free-form message and the template used outside the window."""
    return {"free": free, "template": fallback}


def _display_sha(value: str) -> str:
    if len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise ValueError("display_sha must be the SHA-256 of a display copy")
    return value


def _text(value: str, limit: int) -> str:
    if not value.strip() or len(value) > limit:
        raise ValueError(f"text must be 1..{limit} characters")
    return value


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _choices(choices: list[tuple[str, str]], title_limit: int) -> list[list[str]]:
    """(id, title) pairs; a title longer than WhatsApp shows is cut, ending with an ellipsis."""
    checked = []
    for reply_id, title in choices:
        if not title.strip():
            raise ValueError("a choice needs a title")
        checked.append([_text(reply_id, ID_LIMIT), _cut(title, title_limit)])
    return checked


def graph_body(to: str, part: dict[str, Any], *, media_id: str | None = None) -> dict[str, Any]:
    """The Graph API send body of a free-form part (an image, or buttons under a photo, need
    the photo's uploaded media id)."""
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    kind = part["type"]
    if kind == "text":
        return {**base, "type": "text", "text": {"body": part["text"], "preview_url": False}}
    if kind == "image":
        return {**base, "type": "image", "image": {"id": media_id, "caption": part["caption"]}}
    if kind == "location_request":
        request = {
            "type": "location_request_message",
            "body": {"text": part["text"]},
            "action": {"name": "send_location"},
        }
        return {**base, "type": "interactive", "interactive": request}
    if kind == "buttons":
        replies = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in part["choices"]]
        action: dict[str, Any] = {"buttons": replies}
        interactive: dict[str, Any] = {
            "type": "button",
            "body": {"text": part["text"]},
            "action": action,
        }
        if media_id is not None:
            interactive["header"] = {"type": "image", "image": {"id": media_id}}
    else:
        rows = [_row(*choice) for choice in part["choices"]]
        action = {"button": part["label"], "sections": [{"title": part["label"], "rows": rows}]}
        interactive = {"type": "list", "body": {"text": part["text"]}, "action": action}
    return {**base, "type": "interactive", "interactive": interactive}


def _row(reply_id: str, title: str, description: str | None = None) -> dict[str, str]:
    row = {"id": reply_id, "title": title}
    return row | {"description": description} if description else row


def graph_template(to: str, fallback: dict[str, Any]) -> dict[str, Any]:
    """The Graph API send body of a template."""
    parameters = [{"type": "text", "text": p} for p in fallback["parameters"]]
    body = {
        "name": fallback["name"],
        "language": {"code": fallback["language"]},
        "components": [{"type": "body", "parameters": parameters}],
    }
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": body}
