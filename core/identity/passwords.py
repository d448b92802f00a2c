"""Password hashing and checking off the event loop, a few at a time.

argon2id is slow and memory-hungry by design (~50 ms and 64 MiB per call). On the event loop,
20 concurrent wrong-password sign-ins stalled the web, the bot and the workers for seconds. Here
every hash and check runs on a small dedicated thread pool (argon2-cffi releases the GIL inside
the C call). The pool's size bounds the concurrency: a flood of sign-ins costs at most
POOL_SIZE x 64 MiB and queues for the pool, never for the loop.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# One thread: on the 2-core target, argon2 may take one core and the event loop keeps the other
# (bench/signin.py: the /healthz probe's p99 under 20 concurrent wrong-password sign-ins).
POOL_SIZE = 1
_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="argon2")


@cache
def dummy_hash() -> str:
    """A hash of a random secret: checking against it keeps unknown e-mails as slow as known."""
    return _hasher.hash(secrets.token_hex(16))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """An argon2id hash of a password, computed off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether a password matches its hash (None: check a dummy, then say no), off the loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)
