"""Possible extortion: a tip that asks for money, a bank transfer, crypto or a ransom, or that
threatens (pure logic; the patterns are listed in docs/scoring.md, and changes go there too).

Families of missing children are a known target: "pay and we return her", "send the reward first".
A match never decides anything; it flags the tip, and the family gets it only when a senior
moderator approves (moderation/forwarding/forward.py). The patterns are wide on purpose (a false
flag costs a senior's look, a missed one can cost a family their savings).
"""

from __future__ import annotations

import re
from typing import Final

from core.dedup.text import normalise_text

# (pattern name, regex over the normalised text: NFKC, lower case, punctuation as spaces)
_ENGLISH: Final = (
    ("money", r"\b(send|pay|give|wire|transfer)\b.{0,30}\b(money|cash|reward|fee|deposit|usd)"),
    ("money", r"\b\d[\d ]* ?(dollars|usd|euros?|pounds|yuan|rmb)\b"),
    ("money", r"\b(reward|money|cash|payment|fee) (first|upfront|up front|before|in advance)\b"),
    ("bank_transfer", r"\b(bank (transfer|account|details)|wire transfer|western union|moneygram)"),
    ("bank_transfer", r"\b(iban|swift code|account number|paypal|venmo|zelle|cash ?app)\b"),
    ("payment_app", r"\b(alipay|wechat pay|gift ?cards?|itunes cards?|steam cards?)\b"),
    ("crypto", r"\b(bitcoin|btc|crypto|usdt|tether|ethereum|eth wallet|wallet address)\b"),
    ("ransom", r"\b(ransom|pay (us|me) (and|or)|if you want (her|him|them|your \w+) back)\b"),
    ("threat", r"\b(or (she|he|they) (will )?(die|dies|get hurt)|never see (her|him|them) again)"),
    ("threat", r"\b(we will|i will|i ll|we ll) (kill|hurt|harm|sell)\b"),
    ("threat", r"\b(don ?t|do not) (tell|call|contact) (the )?(police|cops)\b"),
)
_CHINESE: Final = (
    ("money", r"(打钱|汇钱|转钱|给钱|付钱|交钱|先付|定金|订金|押金|酬金|赏金先|辛苦费|好处费)"),
    ("money", r"(给|付|转|打).{0,6}[0-9一二三四五六七八九十百千万两]+ ?(元|块钱|万)"),
    ("bank_transfer", r"(银行卡|卡号|账号|帐号|转账|转帐|汇款|户名)"),
    ("payment_app", r"(支付宝|微信支付|微信转账|红包|收款码|二维码付款)"),
    ("crypto", r"(比特币|虚拟币|加密货币|泰达币|钱包地址|usdt)"),
    ("ransom", r"(赎金|赎人|拿钱来换|想要孩子回来|想见孩子)"),
    ("threat", r"(撕票|弄死|杀了|打死|卖掉|再也见不到|别报警|不要报警|不许报警|敢报警)"),
)
PATTERNS: Final = tuple((name, re.compile(rx)) for name, rx in (*_ENGLISH, *_CHINESE))


def extortion_signs(text: str | None) -> list[str]:
    """The names of the patterns a tip's text matches (money, bank_transfer, payment_app, crypto,
    ransom, threat), in that order, each once; [] for none."""
    if not text:
        return []
    flat = " ".join(normalise_text(text).split())
    found = [name for name, pattern in PATTERNS if pattern.search(flat)]
    return list(dict.fromkeys(found))
