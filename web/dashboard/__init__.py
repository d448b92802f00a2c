"""The moderators' dashboard: server-rendered pages over the moderation use cases."""

from __future__ import annotations

from fastapi import APIRouter

from web.dashboard import (
    audit,
    case_admin,
    cases,
    erasures,
    forwarding,
    imports,
    matches,
    police_recipients,
    queue,
    reveals,
    scams,
    signin,
    staff,
    system,
    tip_links,
    tips,
)

router = APIRouter(include_in_schema=False)
for part in (
    signin.router,
    queue.router,
    tips.router,
    tip_links.router,
    # Before cases.router: /cases/new is not a case called "new".
    case_admin.router,
    cases.router,
    matches.router,
    imports.router,
    reveals.router,
    erasures.router,
    scams.router,
    audit.router,
    forwarding.router,
    police_recipients.router,
    system.router,
    staff.router,
):
    router.include_router(part)
