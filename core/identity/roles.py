"""The roles a person can have in Tipline."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Staff roles sign in to the dashboard; family and volunteer use the bot."""

    MODERATOR = "moderator"
    SENIOR_MODERATOR = "senior_moderator"
    POLICE_LIAISON = "police_liaison"
    ADMIN = "admin"
    AUDITOR = "auditor"
    FAMILY = "family"
    VOLUNTEER = "volunteer"


STAFF_ROLES = frozenset(
    {Role.MODERATOR, Role.SENIOR_MODERATOR, Role.POLICE_LIAISON, Role.ADMIN, Role.AUDITOR}
)
