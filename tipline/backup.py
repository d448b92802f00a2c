"""`tipline backup DEST` and `tipline restore SRC`: the database and the media, together.

A backup is a directory:
- `manifest.json`: format, backend, schema revision, time, where media live, and the SHA-256 of
  the database file;
- `tipline.db` (SQLite, written with SQLite's online backup API while Tipline runs) or
  `tipline.pgdump` (PostgreSQL, `pg_dump --format=custom`; pg_dump must be at least the server's
  major version);
- `media/` (local disk: originals, display copies, thumbnails and the quarantine, copied), or
  `media.json` (S3: a listing of every object's hash; the bucket itself is kept by the storage's
  own versioning or replication, and restore checks that every listed object is there).

Restore refuses a database that already has tables unless --force.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from settings import Settings
from tipline.infra import open_media
from tipline.startup import StartupError, current_revision, sqlite_path, validate_database_url

FORMAT = 1
NAMESPACES = ("originals", "display", "thumbnails", "quarantine")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    """Write a backup of the database and media into `dest` (new or empty); its manifest."""
    backend = validate_database_url(settings.database_url)
    revision = current_revision(settings.database_url)
    if dest.exists() and any(dest.iterdir()):
        raise StartupError(f"{dest} is not empty: back up into a new directory")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    if backend == "sqlite":
        database = dest / "tipline.db"
        _sqlite_backup(_sqlite_file(settings), database)
    else:
        database = dest / "tipline.pgdump"
        _pg_dump(settings.database_url, database)
    media = _backup_media(settings, dest)
    manifest = {
        "format": FORMAT,
        "backend": backend,
        "revision": revision,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {"file": database.name, "sha256": _sha256(database)},
        "media": media,
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def restore(settings: Settings, src: Path, *, force: bool) -> dict[str, Any]:
    """Restore the database and media from backup `src`; refuses a non-empty database."""
    manifest = _manifest(src)
    backend = validate_database_url(settings.database_url)
    if manifest["backend"] != backend:
        raise StartupError(
            f"{src} is a {manifest['backend']} backup; TIPLINE_DATABASE_URL is {backend}"
        )
    database = src / manifest["database"]["file"]
    if _sha256(database) != manifest["database"]["sha256"]:
        raise StartupError(f"{database} does not match its SHA-256 in the manifest")
    if not force and _has_tables(settings):
        raise StartupError(
            "the database is not empty: restore replaces it; add --force if that is meant"
        )
    if backend == "sqlite":
        _sqlite_restore(database, _sqlite_file(settings))
    else:
        _pg_restore(settings.database_url, database, clean=force)
    _restore_media(settings, src, manifest["media"])
    return manifest


def _manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / "manifest.json").read_text())
    except (OSError, ValueError):
        raise StartupError(f"{src} is not a Tipline backup (no readable manifest.json)") from None
    if manifest.get("format") != FORMAT:
        raise StartupError(f"{src}: backup format {manifest.get('format')} is not {FORMAT}")
    return manifest


def _has_tables(settings: Settings) -> bool:
    try:
        return current_revision(settings.database_url) is not None
    except StartupError:
        if settings.is_sqlite:
            return False  # no file yet
        raise


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_file(settings: Settings) -> Path:
    path = sqlite_path(settings.database_url)
    if path is None:
        raise StartupError("an in-memory SQLite database cannot be backed up or restored")
    return path


def _sqlite_backup(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while Tipline keeps writing."""
    if not source.exists():
        raise StartupError(f"no database at {source}")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    os.chmod(target, 0o600)


def _sqlite_restore(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(backup_file) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # replaces every page of the target, in one transaction
    os.chmod(target, 0o600)


# --- PostgreSQL ---------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the pg_ tools, and their environment (the password goes in PGPASSWORD)."""
    parsed: URL = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(password=None).render_as_string(hide_password=False)
    return uri, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StartupError(
            f"{name} is not installed; install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client)"
        )
    return found


def _major(version_text: str) -> int:
    found = re.search(r"(\d+)(?:\.\d+)?", version_text)
    return int(found.group(1)) if found else 0


def _check_versions(tool: str, uri: str, env: dict[str, str]) -> None:
    """pg_dump/pg_restore older than the server cannot read its catalogs: say so up front."""
    mine = _major(_run([tool, "--version"], env))
    server = _major(_run([_tool("psql"), "-XAtc", "SHOW server_version", uri], env))
    if mine < server:
        raise StartupError(
            f"{Path(tool).name} is version {mine}, the server {server}: install "
            f"postgresql-client-{server} or newer"
        )


def _run(command: list[str], env: dict[str, str]) -> str:
    answer = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if answer.returncode != 0:
        lines = answer.stderr.strip().splitlines() or ["(no message)"]
        raise StartupError(f"{Path(command[0]).name} failed: {lines[-1]}")
    return answer.stdout


def _pg_dump(url: str, target: Path) -> None:
    uri, env = _libpq(url)
    tool = _tool("pg_dump")
    _check_versions(tool, uri, env)
    _run([tool, "--format=custom", "--no-owner", "--file", str(target), uri], env)
    os.chmod(target, 0o600)


def _pg_restore(url: str, dump: Path, *, clean: bool) -> None:
    uri, env = _libpq(url)
    tool = _tool("pg_restore")
    _check_versions(tool, uri, env)
    command = [tool, "--no-owner", "--single-transaction", "--exit-on-error", "--dbname", uri]
    if clean:
        command[1:1] = ["--clean", "--if-exists"]
    _run([*command, str(dump)], env)


# --- media --------------------------------------------------------------------------------


def _backup_media(settings: Settings, dest: Path) -> dict[str, Any]:
    if settings.media_url:
        media = open_media(settings)
        try:
            stores = media.stores
            listing = {
                "originals": stores.originals.list_hashes(),
                "display": stores.display.list_hashes(),
                "thumbnails": stores.thumbnails.list_hashes(),
            }
        finally:
            media.close()
        (dest / "media.json").write_text(json.dumps(listing) + "\n")
        return {"kind": "s3", "url": settings.media_url, "objects": sum(map(len, listing.values()))}
    copied = 0
    for name in NAMESPACES:
        source = settings.media_dir / name
        if source.is_dir():
            shutil.copytree(source, dest / "media" / name)
            copied += sum(1 for f in (dest / "media" / name).rglob("*") if f.is_file())
    return {"kind": "local", "files": copied}


def _restore_media(settings: Settings, src: Path, media: dict[str, Any]) -> None:
    if media["kind"] == "s3":
        _check_s3_listing(settings, json.loads((src / "media.json").read_text()))
        return
    if settings.media_url:
        raise StartupError("this backup holds local media; unset TIPLINE_MEDIA_URL to restore it")
    for name in NAMESPACES:
        source = src / "media" / name
        if source.is_dir():
            shutil.copytree(source, settings.media_dir / name, dirs_exist_ok=True)


def _check_s3_listing(settings: Settings, listing: dict[str, list[str]]) -> None:
    if not settings.media_url:
        raise StartupError("this backup lists S3 media; set TIPLINE_MEDIA_URL to its bucket")
    media = open_media(settings)
    try:
        stores = media.stores
        held = {
            "originals": set(stores.originals.list_hashes()),
            "display": set(stores.display.list_hashes()),
            "thumbnails": set(stores.thumbnails.list_hashes()),
        }
    finally:
        media.close()
    missing = sum(len(set(shas) - held.get(ns, set())) for ns, shas in listing.items())
    if missing:
        raise StartupError(f"{missing} media object(s) listed in the backup are not in the bucket")
