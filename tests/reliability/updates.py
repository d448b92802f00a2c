"""Hypothesis strategies for Telegram updates, built from aiogram's own types: every field of a
kind may be missing, unexpected fields appear, strings are huge or odd Unicode, and some updates
are of kinds aiogram does not know."""

from __future__ import annotations

import functools
import types
import typing
from datetime import datetime
from typing import Any

from aiogram.types import TelegramObject, Update
from hypothesis import strategies as st
from pydantic import BaseModel

ODD = st.text(
    alphabet=st.characters(codec="utf-8")
    | st.sampled_from(["\u202e", "\u200b", "\ufeff", "\u0000", "\U0010ffff", "ﷺ", "Ǆ"]),
    max_size=40,
) | st.sampled_from(["👨‍👩‍👧" * 50, "\ud800", "a\u0301" * 300])
TEXT = st.one_of(
    st.text(max_size=30),
    ODD,
    st.text(alphabet="ab\u0301", min_size=4000, max_size=20_000),  # huge
    st.just(""),
    st.just("/start case_" + "9" * 500),
)
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False), TEXT
)
JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _for(annotation: Any, depth: int) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        return st.one_of(st.none(), *(_for(a, depth) for a in args))
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation)) | TEXT
    if origin is typing.Annotated:
        return _for(args[0], depth)
    if origin is list:
        return st.lists(_for(args[0], depth - 1), max_size=2) if depth > 0 else st.just([])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model(annotation, depth - 1) if depth > 0 else st.none() | JSON
    return _scalar(annotation)


def _scalar(annotation: Any) -> st.SearchStrategy[Any]:
    """A value of a plain type, or often one of another type (Telegram's types are not checked)."""
    for kind, strategy in (
        (bool, st.booleans()),
        (int, st.integers(-(2**63), 2**63) | st.integers(-5, 5)),
        (float, st.floats(allow_nan=False)),
        (str, TEXT),
        (datetime, st.integers(-(2**40), 2**40)),
    ):
        if isinstance(annotation, type) and issubclass(annotation, kind):
            return strategy | SCALAR
    return JSON


@functools.cache
def model(cls: type[BaseModel], depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts shaped like an aiogram type: required fields usually there, any of them may not be."""
    fields = {
        (info.alias or name): _for(info.annotation, depth)
        for name, info in cls.model_fields.items()
        if name != "update_id"
    }
    required = frozenset(
        (info.alias or name)
        for name, info in cls.model_fields.items()
        if info.is_required() and name != "update_id"
    )
    optional = sorted(set(fields) - required)

    def pick(keys: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({k: fields[k] for k in sorted(keys)})

    # A few of the optional fields at a time (a Message has ~100): real updates are sparse too.
    some = st.sets(st.sampled_from(optional), max_size=6) if optional else st.just(set())
    strict = some.map(lambda keys: frozenset(keys) | required).flatmap(pick)
    if fields:
        loose = st.sets(st.sampled_from(sorted(fields)), max_size=6).map(frozenset).flatmap(pick)
    else:  # a type without fields (an empty object)
        loose = st.just({})
    extra = st.dictionaries(st.text(min_size=1, max_size=12), JSON, max_size=2)
    body = st.one_of(strict, strict, loose)
    return st.tuples(body, extra).map(lambda pair: {**pair[1], **pair[0]})


KINDS = [
    name
    for name, info in Update.model_fields.items()
    if name != "update_id"
    and isinstance(typing.get_args(info.annotation)[0], type)
    and issubclass(typing.get_args(info.annotation)[0], TelegramObject)
]


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    """One update body without its update_id (the caller numbers them)."""
    kind = draw(st.sampled_from([*KINDS, "future_kind", "message", "message", "callback_query"]))
    if kind == "future_kind":
        return {draw(st.text(min_size=1, max_size=20)): draw(JSON)}
    annotation = typing.get_args(Update.model_fields[kind].annotation)[0]
    return {kind: draw(model(annotation))}
