"""The "where?" step every flow with a last-seen place shares: a typed place, a shared point,
"Did you mean…?" and its buttons. Channel-free."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from core.geo import GeocodingService
from core.i18n import Texts
from core.tips.drafts import Draft, DraftPlace
from core.tips.places import picked_place, place_at, place_label, resolve_typed
from handlers.engine.channel import Button, Point, button, keyboard
from handlers.engine.wizard import View, Wizard

STEP = "where"
Nav = Callable[..., list[Button]]


class Choosing(BaseModel):
    """A flow's state while "Did you mean…?" is on screen: the candidates and what was typed."""

    places: list[DraftPlace] = Field(default_factory=list)
    typed_place: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def pick_view(choosing: Choosing, texts: Texts, pick: str, nav: Nav) -> View:
    """ "Did you mean…?" with a button per candidate (`<pick>:where:<index>`), none of these,
    and keep what was typed; "not found" with keep or skip when there is no candidate."""
    typed = choosing.typed_place or ""
    choices = [
        [button(place.label or typed, pick, STEP, str(index))]
        for index, place in enumerate(choosing.places)
    ]
    keep = [button(texts("button.keep_typed", place=typed), pick, STEP, "keep")]
    if not choosing.places:
        text = texts("report.place_not_found", place=typed)
        return text, keyboard(keep, nav(texts, STEP, skip="button.skip"))
    again = [button(texts("button.none_of_these"), pick, STEP, "none")]
    return texts("report.did_you_mean"), keyboard(*choices, again, keep, nav(texts, STEP))


async def place_of(point: Point, geocoder: GeocodingService) -> DraftPlace:
    """The place of a shared point, with its coarse label and zone."""
    return await place_at(
        geocoder,
        lat=point.lat,
        lon=point.lon,
        source=point.source,
        accuracy_m=point.accuracy_m,
        text=point.text,
    )


def saved_note(texts: Texts, place: DraftPlace) -> str:
    """ "Place saved: …" for a shared point."""
    shown = place_label(place, texts.language) or place.text or texts("summary.pin")
    return texts("note.place_saved", place=shown)


async def typed(
    wizard: Wizard[Any], choosing: Choosing, draft: Draft, text: str, geocoder: GeocodingService
) -> None:
    """A typed place: resolved offline, with "Did you mean…?" when it is ambiguous."""
    found = await resolve_typed(geocoder, text)
    if found.best is not None and not found.ambiguous:
        draft.set_place(found.best, now=_now())
        shown = place_label(found.best, wizard.texts.language)
        await wizard.onward(STEP, note=wizard.texts("note.place_saved", place=shown))
        return
    choosing.places, choosing.typed_place = list(found.choices), found.typed
    await wizard.ask("where_pick")


async def picked(wizard: Wizard[Any], choosing: Choosing, draft: Draft, value: str) -> None:
    """A candidate, "keep what I typed", or "none of these" (type it again)."""
    if value == "none":
        await wizard.ask(STEP, note=wizard.texts("report.place_retype"))
        return
    place = picked_place(value, choices=choosing.places, typed=choosing.typed_place)
    if place is None:
        await wizard.ask(STEP)
        return
    draft.set_place(place, now=_now())
    choosing.places, choosing.typed_place = [], None
    await wizard.onward(STEP)
