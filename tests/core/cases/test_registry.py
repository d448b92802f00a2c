"""Registering a case: validation with clear messages, the sealed contact, idempotency, edits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.cases.registry import (
    CaseDraft,
    CaseProblem,
    NewCasePhoto,
    edit_case,
    open_contact,
    submit_case,
    validate_draft,
)
from core.errors import InvalidInput
from core.identity.vault import Vault
from storage.models import Case, CasePhoto

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
VAULT = Vault(Vault.new_key())
SHA = "ab" * 32


def draft(**values: object) -> CaseDraft:
    """A valid missing-child draft, with some fields replaced."""
    base: dict[str, object] = {
        "full_name": "Li Wei",
        "birth_date": date(2018, 3, 4),
        "last_seen_at": NOW - timedelta(days=1),
        "last_seen_place": "Xi'an",
        "last_seen_lat": 34.26,
        "last_seen_lon": 108.94,
        "contact": "+86 138 0000 0000 (mother)",
    }
    base.update(values)
    return CaseDraft(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"full_name": "  "}, "name is required"),
        ({"full_name": "x" * 201}, "The name is too long"),
        ({"birth_date": date(2026, 1, 1)}, "birth date is in the future"),
        ({"birth_date": None, "age_years": 121}, "age must be between 0 and 120"),
        ({"birth_date": None, "age_years": -1}, "age must be between 0 and 120"),
        ({"birth_date": date(1800, 1, 1)}, "over 120"),
        ({"age_years": 12}, "does not match the birth date"),
        ({"last_seen_at": NOW + timedelta(hours=1)}, "last-seen time is in the future"),
        ({"last_seen_lat": 91.0}, "latitude -90 to 90"),
        ({"last_seen_lon": None}, "both latitude and longitude"),
        ({"description": "d" * 4001}, "description is too long"),
        ({"photos": tuple(NewCasePhoto(f"tg:f{i}") for i in range(11))}, "At most 10 photos"),
        ({"photos": (NewCasePhoto("http://evil/x.jpg"),)}, "could not be read"),
        ({"contact": ""}, "contact for the family is required"),
        ({"contact": "c" * 301}, "contact is too long"),
        ({"kind": "lost"}, "missing child or a found person"),
        ({"sex": "x"}, "Sex must be"),
    ],
)
def test_a_bad_draft_is_refused_with_a_message_saying_what_is_wrong(values, message):
    with pytest.raises(InvalidInput, match=message):
        validate_draft(draft(**values), now=NOW)


def test_the_reason_a_draft_is_refused_is_given_in_chinese_too():
    with pytest.raises(CaseProblem) as refused:
        validate_draft(draft(full_name="x" * 201), now=NOW)
    assert refused.value.render("zh-Hans") == "姓名太长（最多 200 个字符）。"
    assert str(refused.value) == "The name is too long (at most 200 characters)."


def test_a_consistent_draft_passes_and_a_found_person_needs_no_contact():
    validate_draft(draft(age_years=7), now=NOW)
    validate_draft(draft(kind="found", contact="", birth_date=None, age_years=5), now=NOW)


async def test_submitting_seals_the_contact_and_quarantines_photos_in_order(sessions):
    photos = (NewCasePhoto(f"quarantine:{SHA}", "age 6"), NewCasePhoto("tg:AgAD-x_1"))
    async with sessions() as session:
        case = await submit_case(
            session, draft=draft(photos=photos), vault=VAULT, channel="web", now=NOW
        )
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        rows = (await session.scalars(select(CasePhoto).where(CasePhoto.case_id == case.id))).all()
    assert stored is not None
    assert stored.status == "submitted" and stored.channel == "web"
    assert stored.status_changed_at == NOW
    assert b"138" not in (stored.contact_ciphertext or b"")
    assert open_contact(stored, vault=VAULT) == "+86 138 0000 0000 (mother)"
    ordered = sorted(rows, key=lambda row: row.position)
    assert [(r.source_ref, r.status, r.age_note) for r in ordered] == [
        (f"quarantine:{SHA}", "quarantined", "age 6"),
        ("tg:AgAD-x_1", "quarantined", ""),
    ]


async def test_the_same_source_key_twice_is_one_case(sessions):
    async with sessions() as session:
        first = await submit_case(
            session, draft=draft(), vault=VAULT, channel="telegram", source_key="tg:1:2", now=NOW
        )
        again = await submit_case(
            session, draft=draft(), vault=VAULT, channel="telegram", source_key="tg:1:2", now=NOW
        )
        count = len((await session.scalars(select(Case))).all())
    assert again.ref == first.ref and count == 1


async def test_an_invalid_draft_stores_nothing(sessions):
    async with sessions() as session:
        with pytest.raises(InvalidInput):
            await submit_case(session, draft=draft(contact=""), vault=VAULT, channel="web")
        assert (await session.scalars(select(Case))).all() == []


async def test_editing_a_public_field_bumps_the_poster_version_but_police_ref_does_not(sessions):
    async with sessions() as session:
        case = await submit_case(session, draft=draft(), vault=VAULT, channel="staff", now=NOW)
        assert case.poster_version == 0
        changed = await edit_case(
            session, case=case, changes={"police_ref": "PSB-1", "full_name": "Li Wei"}, now=NOW
        )
        assert changed == ["police_ref"] and case.poster_version == 0
        changed = await edit_case(
            session,
            case=case,
            changes={"description": "red coat", "photos": (NewCasePhoto("tg:new"),)},
            now=NOW,
        )
        assert changed == ["description", "photos"] and case.poster_version == 1
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        positions = (
            await session.scalars(select(CasePhoto.position).where(CasePhoto.case_id == case.id))
        ).all()
    assert stored is not None and stored.description == "red coat" and stored.police_ref == "PSB-1"
    assert list(positions) == [0]


async def test_an_edit_is_validated_like_a_new_case_and_a_new_contact_is_sealed(sessions):
    async with sessions() as session:
        case = await submit_case(session, draft=draft(), vault=VAULT, channel="staff", now=NOW)
        with pytest.raises(InvalidInput, match="in the future"):
            await edit_case(
                session, case=case, changes={"last_seen_at": NOW + timedelta(days=1)}, now=NOW
            )
        with pytest.raises(InvalidInput, match="cannot be edited"):
            await edit_case(session, case=case, changes={"status": "active"}, now=NOW)
        changed = await edit_case(
            session, case=case, changes={"contact": "uncle 555"}, now=NOW, vault=VAULT
        )
    assert changed == ["contact"]
    assert open_contact(case, vault=VAULT) == "uncle 555"
    assert case.poster_version == 0
