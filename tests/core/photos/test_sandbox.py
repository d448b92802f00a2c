"""The decoder child's confinement, checked from inside a child (PhotoProcessor.probe): it cannot
read the vault key file or the parent's environment, has no network, cannot gain privileges,
and holds no descriptor but its stdio and its result pipe.

Tipline's CI runs as root, where every step must hold. Unprivileged, the network namespace and
the empty root need unprivileged user namespaces; the tests say so when the machine forbids them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from core.identity.vault import Vault
from core.photos import PhotoProcessor
from core.photos.sandbox import NOBODY, gaps, without_root
from tests.core.photos.decoder_as_nobody import look_inside

CANARY = "TIPLINE_TEST_CANARY_SECRET"


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (the parent's network has one)."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


@pytest.fixture(scope="module")
def vault_key(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("var") / "vault.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(Vault.new_key() + "\n")
    return str(path)


@pytest.fixture(scope="module")
def found(vault_key, listener) -> dict:
    os.environ[CANARY] = "the parent's secret"
    try:
        with PhotoProcessor(workers=1) as processor:
            confinement, inside = look_inside(processor, vault_key=vault_key, port=listener)
            return {"inside": inside, "confinement": confinement}
    finally:
        del os.environ[CANARY]


def test_the_parent_itself_can_do_all_of_it(vault_key, listener):
    """So each refusal below is the confinement's doing, not the test machine's."""
    with open(vault_key, "rb") as handle:
        assert handle.read(1)
    with socket.create_connection(("127.0.0.1", listener), timeout=1):
        pass


def test_the_child_cannot_read_the_vault_key_file(found, vault_key):
    assert found["confinement"]["empty_root"] is True
    assert found["inside"]["reads"][vault_key] in {"FileNotFoundError", "PermissionError"}


def test_the_child_cannot_read_the_parents_environment(found):
    assert CANARY not in found["inside"]["environ"]
    assert not any(name.startswith("TIPLINE_") for name in found["inside"]["environ"])
    for path, outcome in found["inside"]["reads"].items():
        if path.startswith("/proc/"):
            assert outcome in {"FileNotFoundError", "PermissionError"}, path


def test_the_child_has_no_network(found):
    assert found["confinement"]["network_namespace"] in {"net", "user+net"}
    assert found["inside"]["connect"] != "ok"


def test_the_child_cannot_gain_privileges(found):
    assert found["inside"]["no_new_privs"] is True
    assert found["inside"]["setuid_root"] != "ok"
    if os.geteuid() == 0:
        assert found["inside"]["uid"] == NOBODY
        # Another uid than Tipline's: it cannot even signal its parent's processes.
        assert list(found["inside"]["signal"].values()) == ["PermissionError"]


def test_the_child_inherits_no_descriptors_but_stdio_and_its_result_pipe(found):
    assert len(found["inside"]["fds"]) == 4
    assert found["inside"]["fds"][:3] == [0, 1, 2]


def test_a_full_confinement_has_no_gaps_and_each_missing_step_is_named():
    full = {"network_namespace": "net", "empty_root": True, "uid": NOBODY, "no_new_privs": True}
    assert gaps(full, parent_uid=0) == []
    bare = {"network_namespace": "", "empty_root": False, "uid": 1000, "no_new_privs": False}
    said = gaps(bare, parent_uid=1000)
    assert len(said) == 4
    assert "network" in said[0] and "vault key file" in said[1] and "uid 1000" in said[2]


def test_tipline_says_at_start_when_it_is_not_root_and_nothing_as_root():
    assert without_root(0) is None
    note = without_root(1000)
    assert note is not None and "keep uid 1000" in note and "threat-model" in note
