"""Start-up refusals for roles, Redis and S3: one line naming the problem, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.s3server import S3Server
from tests.test_cli import _env, assert_clean_failure, tipline

PG = "postgresql+asyncpg://root@127.0.0.1:5432/never_reached"


@pytest.mark.parametrize("role", ["web", "bot", "worker"])
def test_a_split_role_on_sqlite_refuses_to_start(tmp_path: Path, role: str) -> None:
    result = tipline("run", "--role", role, env=_env(tmp_path), timeout=180)
    assert_clean_failure(result, f"--role {role} needs PostgreSQL", "SQLite is one process")


def test_a_split_role_without_redis_refuses_to_start(tmp_path: Path) -> None:
    env = _env(tmp_path, TIPLINE_DATABASE_URL=PG)
    result = tipline("run", "--role", "worker", env=env, timeout=180)
    assert_clean_failure(result, "needs TIPLINE_REDIS_URL")


def test_an_unknown_role_is_named(tmp_path: Path) -> None:
    result = tipline("run", "--role", "everything", env=_env(tmp_path), timeout=180)
    assert_clean_failure(result, "everything")


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, TIPLINE_REDIS_URL="redis://127.0.0.1:9/0")
    assert_clean_failure(tipline("run", env=env, timeout=240), "cannot reach Redis")


def test_unreachable_s3_is_one_line(tmp_path: Path) -> None:
    env = _env(
        tmp_path, TIPLINE_MEDIA_URL="s3://media/x", TIPLINE_S3_ENDPOINT_URL="http://127.0.0.1:9"
    )
    assert_clean_failure(tipline("run", env=env, timeout=240), "cannot reach S3")


def test_a_wrong_bucket_is_one_line(tmp_path: Path, s3: S3Server) -> None:
    env = _env(tmp_path, **s3.env("no-such-bucket"))
    assert_clean_failure(tipline("run", env=env, timeout=240), "'no-such-bucket' does not exist")
