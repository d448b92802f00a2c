"""The web app for bench/signin.py: SQLite, one staff account, argon2 where --mode says.

python bench/signin_server.py --port P --dir D --mode {off-loop,on-loop}

on-loop is the baseline: how sign-in ran before core/identity/passwords.py (argon2 on the event
loop).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def _prepare(url: str) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from core.identity.staff import hash_password
    from storage.db import create_engine
    from storage.models import StaffUser

    # One account, so the sign-in page is the staff's (not the first admin's set-up). A benchmark
    # of wrong passwords needs no second factor; the product makes accounts only through links.
    engine = create_engine(url)
    async with async_sessionmaker(engine)() as session:
        hashed = hash_password("x" * 16)
        session.add(StaffUser(email="mod@example.org", role="moderator", password_hash=hashed))
        await session.commit()
    await engine.dispose()


def _argon2_on_the_loop() -> None:
    """Put back the old path: verify on the calling thread (the event loop's)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    from core.identity import passwords
    from moderation.staff import auth

    hasher = PasswordHasher()

    async def verify_on_loop(password_hash: str | None, password: str) -> bool:
        try:
            return hasher.verify(password_hash or passwords.dummy_hash(), password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    auth.verify_password = verify_on_loop  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--mode", choices=["off-loop", "on-loop"], required=True)
    args = parser.parse_args()
    import uvicorn
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from core.geo import build_geocoder
    from core.identity.vault import Vault
    from storage import migrate
    from storage.db import create_engine
    from web.app import WebContext, create_app
    from web.public.abuse import FormLimits

    url = f"sqlite+aiosqlite:///{args.dir / 'signin.db'}"
    migrate.upgrade(url)
    asyncio.run(_prepare(url))
    if args.mode == "on-loop":
        _argon2_on_the_loop()
    engine = create_engine(url)
    context = WebContext(
        engine=engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        head_revision=migrate.head_revision(url),
        bot_mode="disabled",
        media_dir=args.dir / "media",
        secret=b"s" * 32,
        geocoder=build_geocoder(user_agent="bench"),
        vault=Vault(Vault.new_key()),
        # Each guess comes "from" its own address through a trusted proxy, so the per-address
        # throttle never answers before argon2 does: the bench measures the hashing.
        form_limits=FormLimits.read(
            address="1/1s", session="1/1s", overall="1/1s", proxies=["127.0.0.1"]
        ),
    )
    logging.basicConfig(level=logging.WARNING)
    uvicorn.run(create_app(context), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
