"""Telegram's HTML parse mode, as strict as the real server: what the user would see, or why not.

The scanner follows the rules of tdlib's `parse_html` (the error texts are Telegram's) so a bot that
forgets to escape a tipster's "<3" fails here exactly as it would in production.
"""

import html

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\xa0"}


class HtmlError(ValueError):
    """The text cannot be parsed; the message is Telegram's (after "can't parse entities: ")."""


def plain_text(text: str) -> str:
    """Return the text a user sees for an HTML-formatted message, or raise HtmlError."""
    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            decoded, i = _entity(text, i)
            out.append(decoded)
        elif char == "<":
            i = _tag(text, i, open_tags)
        else:
            out.append(char)
            i += 1
    if open_tags:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity(text: str, start: int) -> tuple[str, int]:
    end = text.find(";", start + 1, start + 12)
    if end == -1:
        return "&", start + 1
    name = text[start + 1 : end]
    if name in _ENTITIES:
        return _ENTITIES[name], end + 1
    if name.startswith("#"):
        decoded = html.unescape(f"&{name};")
        if decoded != f"&{name};":
            return decoded, end + 1
    return "&", start + 1


def _tag(text: str, start: int, open_tags: list[str]) -> int:
    """Consume one tag starting at text[start] == "<"; return the index after it."""
    closing = text.startswith("</", start)
    name_start = start + (2 if closing else 1)
    i = name_start
    while i < len(text) and not text[i].isspace() and text[i] != ">":
        i += 1
    if i >= len(text):
        kind = "end" if closing else "start"
        raise HtmlError(f"Unclosed {kind} tag at byte offset {_byte_offset(text, start)}")
    name = text[name_start:i].lower()
    if not closing and name not in SUPPORTED_TAGS:
        offset = _byte_offset(text, start)
        raise HtmlError(f'Unsupported start tag "{name}" at byte offset {offset}')
    end = _tag_end(text, i)
    if end == -1:
        kind = "end" if closing else "start"
        raise HtmlError(f"Unclosed {kind} tag at byte offset {_byte_offset(text, start)}")
    if closing:
        _close(text, start, name, open_tags)
    else:
        open_tags.append(name)
    return end + 1


def _tag_end(text: str, i: int) -> int:
    """Index of the ">" closing a tag, skipping quoted attribute values; -1 when missing."""
    quote = ""
    while i < len(text):
        char = text[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ">":
            return i
        i += 1
    return -1


def _close(text: str, start: int, name: str, open_tags: list[str]) -> None:
    offset = _byte_offset(text, start)
    if not open_tags:
        raise HtmlError(f"Unexpected end tag at byte offset {offset}")
    expected = open_tags.pop()
    if name and name != expected:
        raise HtmlError(
            f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", '
            f'found "</{name}>"'
        )
