"""The scam shield in the score: a recycled image (a photo seen on any ever-public case, or in an
earlier tip about another case) and possible extortion (English and Chinese patterns).

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.dedup import PhashIndex
from core.tips.evaluate import evaluate_tip
from core.tips.evidence import signed64
from core.tips.extortion import extortion_signs
from storage.models import Case, CasePhoto, Tip, TipPhoto

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POSTER_PHOTO = 0xA5A5_0F0F_3C3C_9999
NEAR_COPY = POSTER_PHOTO ^ 0b1011  # three bits off: a re-saved, re-cropped copy
UNRELATED = 0x1234_5678_9ABC_DEF0


async def _case(session, name: str, *, verified: bool = True, phash: int | None = None) -> Case:
    case = Case(full_name=name, status="active" if verified else "submitted")
    case.verified_at = NOW - timedelta(days=30) if verified else None
    session.add(case)
    await session.flush()
    if phash is not None:
        session.add(CasePhoto(case_id=case.id, status="ready", phash=signed64(phash)))
    await session.commit()
    return case


async def _tip(session, case: Case, *, text: str = "Seen at the market", phash=None) -> int:
    tip = Tip(channel="telegram", text=text, case_id=case.id, seen_at=NOW - timedelta(hours=1))
    session.add(tip)
    await session.flush()
    if phash is not None:
        session.add(TipPhoto(tip_id=tip.id, status="processed", phash=signed64(phash)))
    await session.commit()
    return tip.id


async def _evaluated(sessions, index, tip_id) -> Tip:
    async with sessions() as session:
        await evaluate_tip(session, tip_id=tip_id, phash_index=index, now=NOW)
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        return tip


def _flags(tip: Tip) -> dict[str, str]:
    return {f["code"]: f["message"] for f in tip.score_parts["flags"]}


async def test_a_photo_from_another_familys_public_case_is_a_recycled_image(sessions):
    async with sessions() as session:
        lily = await _case(session, "Lily Chen", phash=POSTER_PHOTO)
        wei = await _case(session, "Wei Wang")
        private = await _case(session, "Never public", verified=False, phash=UNRELATED)
        recycled = await _tip(session, wei, phash=NEAR_COPY)
        fresh = await _tip(session, wei, phash=UNRELATED)  # only a never-public case has it
    index = PhashIndex()
    tip = await _evaluated(sessions, index, recycled)
    assert f"case {lily.ref}" in _flags(tip)["recycled_image"]
    photo = next(p for p in tip.score_parts["parts"] if p["name"] == "photo")
    assert photo["points"] == -25 and photo["data"]["recycled_from"] == [f"case {lily.ref}"]
    assert tip.score_parts["recycled_from"] == [f"case {lily.ref}"]
    assert "recycled_image" not in _flags(await _evaluated(sessions, index, fresh))
    assert private.verified_at is None


async def test_a_photo_of_an_earlier_tip_about_another_case_is_recycled_the_first_is_not(sessions):
    async with sessions() as session:
        lily = await _case(session, "Lily Chen")
        wei = await _case(session, "Wei Wang")
        first = await _tip(session, lily, phash=UNRELATED)
        same_case = await _tip(session, lily, phash=UNRELATED)
        again = await _tip(session, wei, phash=UNRELATED ^ 0b1)
    index = PhashIndex()
    first_tip = await _evaluated(sessions, index, first)
    # The same case's sighting sent twice corroborates; it is not a scam.
    assert "recycled_image" not in _flags(await _evaluated(sessions, index, same_case))
    again_tip = await _evaluated(sessions, index, again)
    assert "recycled_image" not in _flags(first_tip)
    assert f"tip {first_tip.ref}" in _flags(again_tip)["recycled_image"]


async def test_the_recycled_flag_survives_a_rescore_of_the_cluster(sessions):
    async with sessions() as session:
        lily = await _case(session, "Lily Chen", phash=POSTER_PHOTO)
        wei = await _case(session, "Wei Wang")
        recycled = await _tip(session, wei, phash=NEAR_COPY)
        twin = await _tip(session, wei, phash=NEAR_COPY)  # joins its cluster, re-scores it
    index = PhashIndex()
    await _evaluated(sessions, index, recycled)
    await _evaluated(sessions, index, twin)
    async with sessions() as session:
        tip = await session.get(Tip, recycled)
        assert f"case {lily.ref}" in _flags(tip)["recycled_image"]


@pytest.mark.parametrize(
    ("text", "signs"),
    [
        ("Send 5000 USD to this bitcoin wallet or she dies", ["money", "crypto", "threat"]),
        ("Pay the reward first and I will tell you where she is", ["money"]),
        ("Wire transfer through Western Union, then we talk", ["bank_transfer"]),
        ("If you want her back, pay us. Don't call the police.", ["ransom", "threat"]),
        ("我知道孩子在哪，先打钱到这个银行卡，别报警", ["money", "bank_transfer", "threat"]),
        ("给我五万元，用支付宝转，不然撕票", ["money", "payment_app", "threat"]),
        ("想要孩子回来就准备赎金，比特币", ["crypto", "ransom"]),
    ],
)
def test_texts_asking_for_money_or_threatening_match_english_and_chinese_patterns(text, signs):
    assert extortion_signs(text) == signs


@pytest.mark.parametrize(
    "text",
    [
        "I saw a girl like her at the market near the bus station, red coat, with a woman",
        "我在成都火车站看到一个像她的女孩，穿红色外套",
        "She bought one piece of bread (一块面包) and paid cash at the bakery",
    ],
)
def test_an_ordinary_sighting_matches_no_extortion_pattern(text):
    assert extortion_signs(text) == []


@pytest.mark.parametrize(
    "text", ["Pay 2000 dollars up front and I bring her", "先付定金两万元，再告诉你孩子在哪"]
)
async def test_a_tip_asking_for_money_is_flagged_possible_extortion(sessions, text):
    async with sessions() as session:
        lily = await _case(session, "Lily Chen")
        tip_id = await _tip(session, lily, text=text)
    tip = await _evaluated(sessions, PhashIndex(), tip_id)
    assert "money" in _flags(tip)["possible_extortion"]
