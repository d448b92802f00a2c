"""A real local S3 server for tests: moto in server mode, as a subprocess on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from storage.photostore import PhotoStores
from storage.s3store import S3Connection, S3Location, open_s3_stores
from tests.processes import ROOT, free_port

# moto accepts any credentials; real ones are needed by nothing here.
ACCESS_KEY = "tipline-test"
SECRET_KEY = "tipline-test-secret"


@dataclass(frozen=True, slots=True)
class S3Server:
    """Where the server listens."""

    endpoint: str

    def env(self, bucket: str, prefix: str = "media") -> dict[str, str]:
        """TIPLINE_* settings that point a process at `bucket` on this server."""
        return {
            "TIPLINE_MEDIA_URL": f"s3://{bucket}/{prefix}",
            "TIPLINE_S3_ENDPOINT_URL": self.endpoint,
            "TIPLINE_S3_REGION": "us-east-1",
            "TIPLINE_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "TIPLINE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def new_bucket(self) -> str:
        """Create a fresh bucket (plain S3 REST call) and return its name."""
        name = f"tipline-{uuid.uuid4().hex[:12]}"
        httpx.put(f"{self.endpoint}/{name}", timeout=10).raise_for_status()
        return name


def gone_bucket(server: S3Server) -> S3Location:
    """A location on the server whose bucket does not exist: every write to it fails."""
    return S3Location(
        bucket=f"tipline-gone-{uuid.uuid4().hex[:8]}",
        prefix="media/",
        endpoint_url=server.endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


@contextmanager
def s3_stores(location: S3Location) -> Iterator[PhotoStores]:
    """The media stores on `location`, their client closed afterwards."""
    connection = S3Connection(location)
    try:
        yield open_s3_stores(connection)
    finally:
        connection.close()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start `python -m moto.server` and wait until it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the moto S3 server did not start") from None
                time.sleep(0.2)
        yield S3Server(endpoint)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
