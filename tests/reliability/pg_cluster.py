"""A throwaway PostgreSQL cluster of our own (R6 stops and starts it; the shared server is never
touched): initdb into a temporary folder, its own port and socket folder, pg_ctl to stop/start."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest

from tests.processes import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.fail(f"{name} not found: install Debian's postgresql package", pytrace=False)
    return found[-1]


class Cluster:
    """initdb + pg_ctl on a temporary folder; run as the postgres user when we are root."""

    def __init__(self) -> None:
        # Its own folder under /tmp: pytest's folders are private to root, postgres cannot enter.
        root = Path(tempfile.mkdtemp(prefix="tipline-pg-"))
        self.root = root
        self.dir = root / "pgdata"
        self.port = free_port()
        self.log = root / "postgres.log"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(root, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(_bin("initdb"), "-D", str(self.dir), "-U", "root", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(
            _bin("pg_ctl"), "-D", str(self.dir), "-o", options, "-l", str(self.log), "-w", "start"
        )

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "tipline") -> str:
        return f"postgresql+asyncpg://root@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str = "tipline") -> str:
        async def create() -> None:
            connection = await asyncpg.connect(f"postgresql://root@127.0.0.1:{self.port}/postgres")
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
        return self.url(name)
