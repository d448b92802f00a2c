"""What /alerts remembers while a volunteer signs up or changes a setting (key "alerts")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.alerts.volunteers import Area

LEGACY = ("vol_area", "vol_radius", "vol_language", "vol_quiet", "vol_editing", "vol_choices")


class AreaChoice(BaseModel):
    """An area as kept between updates."""

    lat: float
    lon: float
    label: str
    timezone: str | None = None

    @classmethod
    def of(cls, area: Area) -> AreaChoice:
        """Kept form of an area."""
        return cls(lat=area.lat, lon=area.lon, label=area.label, timezone=area.timezone)

    def area(self) -> Area:
        """The area again."""
        return Area(self.lat, self.lon, self.label, self.timezone)


class SignUp(BaseModel):
    """The settings chosen so far, or the one setting being changed (`editing`)."""

    area: AreaChoice | None = None
    radius: float | None = None
    language: str = "en"
    quiet: tuple[int, int] | None = None
    editing: Literal["area", "radius", "quiet"] | None = None
    choices: list[AreaChoice] = Field(default_factory=list)
    place: str = ""
    """The saved area's name, asked about when only the radius changes."""


def legacy(data: dict[str, Any]) -> dict[str, Any] | None:
    """Before flows had keys, /alerts kept flat `vol_*` keys."""
    if not any(data.get(key) is not None for key in LEGACY):
        return None
    return {
        "area": data.get("vol_area"),
        "radius": data.get("vol_radius"),
        "language": data.get("vol_language") or "en",
        "quiet": data.get("vol_quiet"),
        "editing": data.get("vol_editing"),
        "choices": data.get("vol_choices") or [],
    }
