"""Staff accounts' inputs: roles, e-mail addresses, passwords (argon2id hashes).

Accounts are only ever made by enrolment through a set-up link (moderation/staff/invites.py), so
that no account exists without a second factor.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher

from core.errors import InvalidInput
from core.identity.roles import STAFF_ROLES, Role

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password, on the calling thread (the CLI, tests)."""
    return _hasher.hash(password)


def parse_staff_role(role: str) -> Role:
    """A staff role by name; InvalidInput with the choices otherwise."""
    try:
        parsed = Role(role)
    except ValueError:
        allowed = ", ".join(sorted(STAFF_ROLES))
        raise InvalidInput(f"unknown staff role '{role}'; choose one of: {allowed}") from None
    if parsed not in STAFF_ROLES:
        raise InvalidInput(f"'{role}' is not a staff role (families and volunteers use the bot)")
    return parsed


def validate_password(password: str) -> None:
    """Refuse a password too short (or absurdly long) to be a passphrase."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 5:
        raise InvalidInput("the password repeats too few characters; choose a passphrase")
