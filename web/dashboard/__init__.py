"""The moderators' dashboard: server-rendered pages over the moderation use cases."""

from __future__ import annotations

from fastapi import APIRouter

from web.dashboard import (
    audit,
    case_admin,
    cases,
    forwarding,
    imports,
    matches,
    queue,
    reveals,
    scams,
    signin,
    system,
    tips,
)

router = APIRouter(include_in_schema=False)
for part in (
    signin.router,
    queue.router,
    tips.router,
    # Before cases.router: /cases/new is not a case called "new".
    case_admin.router,
    cases.router,
    matches.router,
    imports.router,
    reveals.router,
    scams.router,
    audit.router,
    forwarding.router,
    system.router,
):
    router.include_router(part)
