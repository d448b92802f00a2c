"""The decoder's confinement when Tipline is not root, exercised for real: a process started as
root drops to nobody (65534) for good, then decodes (tests/core/photos/decoder_as_nobody.py), and a
decoder child reports from inside what it could do.

Without root the zygote confines itself in a user namespace: no network, an empty deleted root,
no_new_privs, no inherited descriptors, all as when root. What only root can do is run decoders
under another uid: they keep Tipline's own, so a compromised one could signal Tipline's processes.
The zygote's start says so in the log, and docs/threat-model.md says it too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.photos import errors
from core.photos.sandbox import NOBODY

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root to drop to nobody (unprivileged, test_sandbox.py is this path)",
)


@pytest.fixture(scope="module")
def found() -> Iterator[dict[str, Any]]:
    """What the process that dropped to nobody saw and reported."""
    work = Path(tempfile.mkdtemp(prefix="tipline-nobody-"))
    work.chmod(0o755)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.core.photos.decoder_as_nobody", str(work)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        yield json.loads(done.stdout.splitlines()[-1])
    finally:
        shutil.rmtree(work)


def test_the_process_really_is_nobody_and_could_itself_read_its_key_and_connect(found):
    assert (found["uid"], found["gid"], found["groups"]) == (NOBODY, NOBODY, [])
    # So each refusal below is the confinement's doing, not the drop's.
    assert found["parent_reads_key"] is True and found["parent_connects"] is True


def test_without_root_the_zygote_confines_itself_in_a_user_namespace(found):
    confinement = found["confinement"]
    assert confinement["network_namespace"] == "user+net"
    assert confinement["empty_root"] is True and confinement["no_new_privs"] is True
    assert confinement["uid"] == NOBODY  # Tipline's own uid: there is no root to drop


def test_the_child_has_no_network_no_files_and_no_secrets(found):
    inside = found["inside"]
    assert inside["connect"] != "ok"
    for path, outcome in inside["reads"].items():  # the key file is nobody's own, 0600
        assert outcome == "FileNotFoundError", path
    assert not any(name.startswith("TIPLINE_") for name in inside["environ"])


def test_the_child_cannot_gain_privileges_and_inherits_no_descriptors(found):
    inside = found["inside"]
    assert inside["uid"] == NOBODY and inside["no_new_privs"] is True
    assert inside["setuid_root"] != "ok"
    assert len(inside["fds"]) == 4 and inside["fds"][:3] == [0, 1, 2]


def test_photos_still_decode_and_hostile_ones_are_still_refused(found):
    assert found["fates"] == {
        "jpeg": "decoded:400x200",
        "png_bomb": f"refused:{errors.TOO_LARGE}",
        "truncated_jpeg": f"refused:{errors.DAMAGED}",
    }


def test_what_only_root_could_give_is_said_plainly_at_start(found):
    # The child shares Tipline's uid, so it can signal Tipline: the log says so, once.
    [parent] = found["inside"]["signal"].values()
    assert parent == "ok"
    warnings = [line for line in found["log"] if line.startswith("WARNING")]
    assert len(warnings) == 1
    assert f"decoders keep Tipline's own uid {NOBODY}" in warnings[0]
    assert "network" not in warnings[0] and "empty root" not in warnings[0]
