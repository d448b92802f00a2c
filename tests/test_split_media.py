"""A web process and a worker on two "machines" (no shared disk): one PostgreSQL, one S3 bucket.

A photo posted on the public web form goes to the S3 quarantine (not the web process's disk),
the worker on the other machine reads it from there, sanitises it and stores it once, and the
quarantined upload is as private on S3 as an original; neither local media folder holds a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.identity.vault import Vault
from storage import migrate
from storage.s3store import S3Connection, S3Location, S3PhotoStore
from tests.databases import fresh_database, query_pg
from tests.multiprocess import noisy_jpeg
from tests.processes import TiplineProcess, tipline_env, wait_until
from tests.s3server import ACCESS_KEY, SECRET_KEY, S3Server

REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
PUBLIC_GROUPS = ("AllUsers", "AuthenticatedUsers")


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()


@pytest.fixture
def stores(s3: S3Server, bucket: str) -> Iterator[dict[str, S3PhotoStore]]:
    """The bucket as an operator's S3 client sees it (the processes' prefix, "media/")."""
    location = S3Location(
        bucket=bucket,
        prefix="media/",
        endpoint_url=s3.endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
    connection = S3Connection(location)
    yield {ns: S3PhotoStore(connection, ns) for ns in ("quarantine", "originals", "display")}
    connection.close()


def _machine(root: Path, common: dict[str, str]) -> dict[str, str]:
    """One machine's environment: its own var and media folders, the shared services."""
    root.mkdir()
    return tipline_env(root, **common)


def _post_report(url: str, photo: bytes) -> str:
    """Fill in the public form with one photo, as a browser would; the tip's reference."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        page = browser.get("/report").text
        fields = {
            name: re.search(rf'name="{name}" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
            for name in ("csrf", "nonce", "lang")
        }
        form = {**fields, "text": "Boy in a green cap at the bus station", "when": "now"}
        files = [("photos", ("IMG_0042.jpg", photo, "image/jpeg"))]
        answer = browser.post("/report", data=form, files=files)
    assert answer.status_code == 200, answer.text
    found = re.search(r'<p class="ref" id="ref">([^<]+)</p>', answer.text)
    assert found, answer.text
    return found.group(1)


def _grants(store: S3PhotoStore, sha: str) -> list[dict[str, Any]]:
    acl = store.connection.call(
        lambda: store.connection.client.get_object_acl(Bucket=store.bucket, Key=store.key(sha))
    )
    return list(acl["Grants"])


def _public(grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grants to everyone or to any AWS account (a public object)."""
    return [g for g in grants if g["Grantee"].get("URI", "").endswith(PUBLIC_GROUPS)]


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_web_form_photo_reaches_a_worker_with_no_shared_disk(
    tmp_path: Path, s3: S3Server, bucket: str, stores: dict[str, S3PhotoStore]
) -> None:
    photo = noisy_jpeg(16)
    sha = hashlib.sha256(photo).hexdigest()
    with fresh_database("postgresql", tmp_path) as db_url:
        migrate.upgrade(db_url)
        common = {
            "TIPLINE_DATABASE_URL": db_url,
            "TIPLINE_REDIS_URL": REDIS_URL,
            "TIPLINE_REDIS_PREFIX": f"split-{uuid.uuid4().hex[:10]}:",
            "TIPLINE_VAULT_KEY": Vault.new_key(),
            "TIPLINE_FACES": "false",
            **s3.env(bucket, prefix="media"),
        }
        web_env = _machine(tmp_path / "web-host", common)
        worker_env = _machine(tmp_path / "worker-host", common)
        assert web_env["TIPLINE_MEDIA_DIR"] != worker_env["TIPLINE_MEDIA_DIR"]
        web = TiplineProcess(web_env, "--role", "web")
        worker: TiplineProcess | None = None
        try:
            ref = _post_report(web.url, photo)
            # Before any worker runs: the upload waits in the bucket's quarantine, private.
            assert stores["quarantine"].get(sha) == photo
            quarantined = _grants(stores["quarantine"], sha)
            assert not [
                g for g in quarantined if g["Grantee"].get("URI", "").endswith(PUBLIC_GROUPS)
            ]
            [row] = query_pg(db_url, "SELECT status, source_ref FROM tip_photos")
            assert (row["status"], row["source_ref"]) == ("quarantined", f"quarantine:{sha}")

            worker = TiplineProcess(worker_env, "--role", "worker")
            # The worker yields the CPU to the web role (and its decoders lower still).
            assert os.getpriority(os.PRIO_PROCESS, web.proc.pid) == os.nice(0)
            assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, os.nice(0) + 5)
            done = "SELECT status FROM tip_photos WHERE status <> 'quarantined'"
            wait_until(lambda: query_pg(db_url, done), timeout=120, what="the photo processed")
            rows = query_pg(
                db_url,
                "SELECT t.ref, p.status, p.attempts, p.original_sha256, p.display_sha256"
                " FROM tip_photos p JOIN tips t ON t.id = p.tip_id",
            )
        finally:
            web.stop()
            if worker is not None:
                worker.stop()
    [row] = rows  # one tip, one photo: stored exactly once
    assert (row["ref"], row["status"], row["attempts"]) == (ref, "processed", 1)
    assert row["original_sha256"] == sha
    assert stores["originals"].get(sha) == photo
    assert stores["display"].exists(row["display_sha256"])
    # The original is kept exactly as privately as its quarantined upload was.
    assert _grants(stores["originals"], sha) == quarantined
    assert not stores["quarantine"].exists(sha)  # the upload left quarantine once processed
    for host in ("web-host", "worker-host"):
        assert _files(tmp_path / host / "media") == [], host
