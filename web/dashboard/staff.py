"""The Staff page (admins): invitations, roles, deactivation, 2FA resets and approvals.

Thin views over moderation.staff.accounts and moderation.staff.invites. A refusal re-renders the
page with the reason (400) and changes nothing; a one-time link is shown once, on the page
that made it, and never again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from core.errors import InvalidInput, NotFound
from core.identity.roles import STAFF_ROLES
from moderation.staff import accounts
from moderation.staff.invites import DEFAULT_HOURS, InviteMail, NewInvite, create_invite
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)
Admin = Annotated[Staff, require("staff.manage")]
ROLE_CHOICES = sorted(role.value for role in STAFF_ROLES)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v[:1024] for k, v in form.items() if isinstance(v, str)}


async def _staff_page(
    request: Request, staff: Staff, *, error: str = "", notice: str = "", status: int = 200
) -> Response:
    db = staff.db
    rows = await accounts.list_staff(db)
    emails = {row.user.id: row.user.email for row in rows}
    return page(
        request,
        "dash/staff.html",
        staff,
        status=status,
        rows=rows,
        invites=await accounts.list_invites(db),
        requests=await accounts.pending_role_requests(db),
        emails=emails,
        roles=ROLE_CHOICES,
        default_hours=DEFAULT_HOURS,
        mail_invites=web_context(request).mail_invites,
        error=error,
        notice=notice or request.query_params.get("done", "")[:200],
    )


async def _refused(request: Request, staff: Staff, exc: Exception) -> Response:
    await staff.db.rollback()
    await staff.db.refresh(staff.user)  # the rollback expired it
    await accounts.record_refusal(staff.db, actor=staff.user, what=request.url.path, why=str(exc))
    status = 404 if isinstance(exc, NotFound) else 400
    return await _staff_page(request, staff, error=str(exc), status=status)


def _done(text: str) -> Response:
    return RedirectResponse(f"/staff?done={text}", status_code=303)


def _links_base(request: Request) -> str:
    """Where links point: the configured public address, never the request's Host header."""
    context = web_context(request)
    return (context.public_url or context.base_url).rstrip("/")


def _link_page(request: Request, staff: Staff, new: NewInvite, *, mailed: bool) -> Response:
    link = f"{_links_base(request)}/setup/{new.token}"
    return page(request, "dash/staff_link.html", staff, invite=new.invite, link=link, mailed=mailed)


@router.get("/staff", response_class=HTMLResponse)
async def staff_list(request: Request, staff: Admin) -> Response:
    """Everyone with a staff account, open invitations, and grants waiting for approval."""
    return await _staff_page(request, staff)


@router.post("/staff/invites", response_class=HTMLResponse)
async def invite(request: Request, staff: Admin) -> Response:
    """Invite a person for a role; the one-time link is shown once (and e-mailed with SMTP)."""
    form = await _form(request)
    context = web_context(request)
    mail = None
    if context.mail_invites and context.vault is not None:
        mail = InviteMail(context.vault, _links_base(request))
    try:
        hours = int(form.get("hours") or DEFAULT_HOURS)
        new = await create_invite(
            staff.db,
            role=form.get("role", ""),
            email=form.get("email", ""),
            created_by=staff.user,
            reason=accounts.check_reason(form.get("reason", "")),
            hours=hours,
            mail=mail,
        )
    except ValueError:
        return await _refused(request, staff, InvalidInput("the expiry is a number of hours"))
    except InvalidInput as exc:
        return await _refused(request, staff, exc)
    return _link_page(request, staff, new, mailed=mail is not None)


@router.post("/staff/invites/{invite_id}/revoke")
async def revoke(invite_id: int, request: Request, staff: Admin) -> Response:
    """Revoke an open invitation."""
    form = await _form(request)
    try:
        await accounts.revoke_invite(
            staff.db, actor=staff.user, invite_id=invite_id, reason=form.get("reason", "")
        )
    except (InvalidInput, NotFound) as exc:
        return await _refused(request, staff, exc)
    return _done("Invitation revoked.")


@router.post("/staff/invites/{invite_id}/approve")
async def approve_invite(invite_id: int, request: Request, staff: Admin) -> Response:
    """A second admin lets an admin invitation (or an admin's 2FA reset link) be used."""
    try:
        await accounts.approve_invite(staff.db, actor=staff.user, invite_id=invite_id)
    except InvalidInput as exc:
        return await _refused(request, staff, exc)
    return _done("Invitation approved: its link works now.")


@router.post("/staff/{staff_id}/role")
async def change_role(staff_id: int, request: Request, staff: Admin) -> Response:
    """Change someone's role (granting admin may wait for a second admin)."""
    form = await _form(request)
    try:
        outcome = await accounts.change_role(
            staff.db,
            actor=staff.user,
            staff_id=staff_id,
            role=form.get("role", ""),
            reason=form.get("reason", ""),
        )
    except (InvalidInput, NotFound) as exc:
        return await _refused(request, staff, exc)
    if outcome == "requested":
        return _done("Asked a second admin to approve the admin role.")
    return _done("Role changed.")


@router.post("/staff/{staff_id}/deactivate")
async def deactivate(staff_id: int, request: Request, staff: Admin) -> Response:
    """Deactivate an account: its sessions end at once."""
    return await _set_active(staff_id, request, staff, active=False)


@router.post("/staff/{staff_id}/reactivate")
async def reactivate(staff_id: int, request: Request, staff: Admin) -> Response:
    """Let a deactivated account sign in again."""
    return await _set_active(staff_id, request, staff, active=True)


async def _set_active(staff_id: int, request: Request, staff: Staff, *, active: bool) -> Response:
    form = await _form(request)
    try:
        await accounts.set_active(
            staff.db,
            actor=staff.user,
            staff_id=staff_id,
            active=active,
            reason=form.get("reason", ""),
        )
    except (InvalidInput, NotFound) as exc:
        return await _refused(request, staff, exc)
    if staff_id == staff.user.id and not active:
        return RedirectResponse("/login", status_code=303)
    return _done("Account reactivated." if active else "Account deactivated; its sessions ended.")


@router.post("/staff/{staff_id}/reset-2fa", response_class=HTMLResponse)
async def reset_2fa(staff_id: int, request: Request, staff: Admin) -> Response:
    """Drop someone's second factor and make them a fresh enrolment link (shown once)."""
    form = await _form(request)
    try:
        new = await accounts.reset_2fa(
            staff.db, actor=staff.user, staff_id=staff_id, reason=form.get("reason", "")
        )
    except (InvalidInput, NotFound) as exc:
        return await _refused(request, staff, exc)
    return _link_page(request, staff, new, mailed=False)


@router.post("/staff/requests/{request_id}/approve")
async def approve_request(request_id: int, request: Request, staff: Admin) -> Response:
    """A second admin grants the admin role that a colleague asked for."""
    return await _decide(request_id, request, staff, approve=True)


@router.post("/staff/requests/{request_id}/refuse")
async def refuse_request(request_id: int, request: Request, staff: Admin) -> Response:
    """A second admin (or the asker, withdrawing) refuses a grant of the admin role."""
    return await _decide(request_id, request, staff, approve=False)


async def _decide(request_id: int, request: Request, staff: Staff, *, approve: bool) -> Response:
    try:
        await accounts.decide_role_request(
            staff.db, actor=staff.user, request_id=request_id, approve=approve
        )
    except InvalidInput as exc:
        return await _refused(request, staff, exc)
    return _done("Admin role granted." if approve else "Request refused.")
