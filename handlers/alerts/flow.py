"""/alerts as a flow of the engine: area (a point or a city), radius, language, quiet hours,
confirm; or one setting changed. Refusals (a point at sea, an unknown city, a radius or quiet
hours that do not read) are said and the step stays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts.dispatch import DEFAULT_PER_DAY
from core.alerts.volunteers import (
    NIGHT,
    Area,
    VolunteerRefused,
    area_from_point,
    area_from_text,
    change_area,
    change_quiet_hours,
    change_radius,
    get_volunteer,
    leave_alerts,
    parse_quiet_hours,
    parse_radius,
    set_paused,
    subscribe_volunteer,
)
from core.geo import GeocodingService
from handlers.alerts.state import AreaChoice, SignUp, legacy
from handlers.alerts.views import VIEWS, settings_keyboard, summary_of
from handlers.engine.channel import Point
from handlers.engine.wizard import Flow, Wizard
from storage.models import Subscription

ALERTS = Flow(
    group="Volunteering",
    key="alerts",
    model=SignUp,
    steps=("area", "radius", "language", "quiet", "confirm"),
    views=VIEWS,
    stale="report.stale_button",
    parent={"area_pick": "area"},
    legacy=legacy,
)
EDITS: dict[str, Literal["area", "radius", "quiet"]] = {
    "area": "area",
    "radius_change": "radius",
    "quiet_change": "quiet",
}


# The step each button of a step belongs to (a button pressed off its step is stale).
STEP_OF = {
    "pick": "area_pick",
    "radius": "radius",
    "lang": "language",
    "quiet": "quiet",
    "confirm": "confirm",
}
SETTINGS = ("pause", "resume", "area", "radius_change", "quiet_change", "leave")
"""The buttons under the settings (Turn.setting)."""


@dataclass(frozen=True, slots=True)
class Volunteer:
    """Who is asking, and the daily cap for the alerts a new area or radius may bring at once."""

    session: AsyncSession
    tipster_id: int
    per_day: int = DEFAULT_PER_DAY


class Turn(Wizard[SignUp]):
    """One update of /alerts."""

    flow = ALERTS

    async def end(self, text: str) -> None:
        """Signing up or changing a setting is over: forget it and say so."""
        self.replace(None)
        self.conversation.go(None)
        await self.say(text)

    async def refused(self, refused: VolunteerRefused) -> None:
        """Input the step cannot use: say why (the step stays)."""
        await self.say(self.texts(refused.key, **refused.values))

    async def saved(self, sub: Subscription) -> None:
        """A setting changed: the settings as they are now."""
        await self.end(f"{self.texts('volunteer.saved')}\n\n{summary_of(self.texts, sub)}")

    async def cancel(self) -> bool:
        """Stop signing up or changing a setting; nothing changes."""
        await self.end(self.texts("volunteer.cancelled"))
        return True

    async def show(self, who: Volunteer) -> None:
        """Not signed up: explain and ask for the area. Signed up: the settings and buttons."""
        sub = await get_volunteer(who.session, tipster_id=who.tipster_id)
        if sub is None:
            self.replace(SignUp())
            await self.ask("area")
            return
        self.replace(None)
        self.conversation.go(None)
        await self.say(summary_of(self.texts, sub), settings_keyboard(self.texts, sub))

    async def at_point(self, point: Point, geocoder: GeocodingService, who: Volunteer) -> None:
        """A shared location as the area (refused at sea)."""
        try:
            area = await area_from_point(geocoder, lat=point.lat, lon=point.lon)
        except VolunteerRefused as refused:
            await self.refused(refused)
            return
        await self.area_chosen(area, who)

    async def city(self, text: str, geocoder: GeocodingService, who: Volunteer) -> None:
        """A typed city as the area; "Did you mean…?" when several places share the name."""
        try:
            found = await area_from_text(geocoder, text)
        except VolunteerRefused as refused:
            await self.refused(refused)
            return
        if found.best is not None:
            await self.area_chosen(found.best, who)
            return
        self.model.choices = [AreaChoice.of(area) for area in found.choices]
        await self.ask("area_pick")

    async def pick(self, value: str, who: Volunteer) -> None:
        """One of the candidate cities (anything else does nothing)."""
        choices = self.model.choices
        index = int(value) if value.isdigit() else len(choices)
        if index < len(choices):
            await self.area_chosen(choices[index].area(), who)

    async def area_chosen(self, area: Area, who: Volunteer) -> None:
        """The area: saved when it is the one setting changing, else the radius is next."""
        if self.model.editing == "area":
            sub = await change_area(
                who.session, tipster_id=who.tipster_id, area=area, per_day=who.per_day
            )
            await self.saved(sub)
            return
        self.model.area = AreaChoice.of(area)
        await self.ask("radius")

    async def radius(self, typed: str, who: Volunteer) -> None:
        """A typed or tapped radius in km."""
        try:
            radius = parse_radius(typed)
        except VolunteerRefused as refused:
            await self.refused(refused)
            return
        if self.model.editing == "radius":
            sub = await change_radius(
                who.session, tipster_id=who.tipster_id, radius_km=radius, per_day=who.per_day
            )
            await self.saved(sub)
            return
        self.model.radius = radius
        await self.ask("language")

    async def language(self, code: str) -> None:
        """The language alerts will be in."""
        self.model.language = code
        await self.ask("quiet")

    async def quiet_typed(self, typed: str, who: Volunteer) -> None:
        """Typed quiet hours ("23-6")."""
        try:
            quiet = parse_quiet_hours(typed)
        except VolunteerRefused as refused:
            await self.refused(refused)
            return
        await self.quiet(quiet, who)

    async def quiet_tapped(self, value: str, who: Volunteer) -> None:
        """No quiet hours, or 22:00-07:00."""
        await self.quiet(NIGHT if value == "night" else None, who)

    async def quiet(self, quiet: tuple[int, int] | None, who: Volunteer) -> None:
        """Quiet hours: saved when they are the one setting changing, else the summary."""
        if self.model.editing == "quiet":
            sub = await change_quiet_hours(who.session, tipster_id=who.tipster_id, quiet=quiet)
            await self.saved(sub)
            return
        self.model.quiet = quiet
        await self.ask("confirm")

    async def confirm(self, who: Volunteer) -> None:
        """Start alerts with the chosen settings."""
        chosen = self.model
        if chosen.area is None or chosen.radius is None:
            await self.end(self.texts("volunteer.cancelled"))
            return
        sub = await subscribe_volunteer(
            who.session,
            tipster_id=who.tipster_id,
            area=chosen.area.area(),
            radius_km=chosen.radius,
            language=chosen.language,
            quiet=chosen.quiet,
            per_day=who.per_day,
        )
        await self.end(self.texts("volunteer.subscribed", place=sub.place_text))

    async def setting(self, action: str, who: Volunteer) -> None:
        """The buttons under the settings: pause, resume, change area/radius/quiet hours, leave."""
        session, tipster_id, texts = who.session, who.tipster_id, self.texts
        sub = await get_volunteer(session, tipster_id=tipster_id)
        if sub is None:
            await self.say(texts("volunteer.not_subscribed"))
        elif action in ("pause", "resume"):
            paused = action == "pause"
            await set_paused(session, tipster_id=tipster_id, paused=paused, per_day=who.per_day)
            await self.say(texts("volunteer.paused" if paused else "volunteer.resumed"))
        elif action == "leave":
            await leave_alerts(session, tipster_id=tipster_id)
            await self.end(texts("volunteer.left"))
        elif action in EDITS:
            editing = EDITS[action]
            self.replace(SignUp(editing=editing, place=sub.place_text or ""))
            await self.ask(editing)

    async def press(self, action: str, value: str, who: Volunteer) -> None:
        """A button of a step (a candidate city, radius, language, quiet hours, confirm; stale
        off its step) or cancel."""
        if action == "cancel":
            await self.cancel()
        elif STEP_OF.get(action) != self.current:
            await self.stale()
        elif action == "pick":
            await self.pick(value, who)
        elif action == "radius":
            await self.radius(value, who)
        elif action == "lang":
            await self.language(value)
        elif action == "quiet":
            await self.quiet_tapped(value, who)
        else:
            await self.confirm(who)

    async def pause_from_alert(self, who: Volunteer) -> None:
        """ "Pause alerts" under an alert."""
        try:
            await set_paused(who.session, tipster_id=who.tipster_id, paused=True)
        except VolunteerRefused as refused:
            await self.refused(refused)
            return
        await self.say(self.texts("volunteer.paused"))
