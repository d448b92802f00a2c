"""R4's updates (mutations.py): the same seed draws the same distinct bodies, and a mutation
never changes the base it starts from."""

from __future__ import annotations

import json

import pytest

from tests.reliability.mutations import batches, digest, drawn, mutated
from tests.reliability.updates import updates

pytestmark = pytest.mark.reliability


def _digests(seed: int) -> list[bytes]:
    return [
        digest(body) for batch in batches(count=100, bases=10, from_seed=seed) for body in batch
    ]


def test_the_same_seed_draws_the_same_distinct_updates():
    first = _digests(7)
    assert len(first) == len(set(first)) == 100
    assert _digests(7) == first


def test_mutations_leave_the_bases_as_drawn():
    bases = drawn(updates(), 10, 3)
    before = json.dumps(bases, sort_keys=True)
    bodies = drawn(mutated(bases), 100, 4)
    assert json.dumps(bases, sort_keys=True) == before
    assert {digest(body) for body in bodies} - {digest(base) for base in bases}
