"""Near-duplicate photos (phash index vs brute force) and near-copied texts (floods)."""

from __future__ import annotations

import numpy as np
import pytest

from core.dedup import PhashIndex, hamming, near_copies, normalise_text, similarity, to_unsigned
from core.tips.evidence import signed64

RNG_SEED = 20260126


def _flip(value: int, bits: int, rng: np.random.Generator) -> int:
    for bit in rng.choice(64, size=bits, replace=False):
        value ^= 1 << int(bit)
    return value


def _brute_force(hashes: np.ndarray, query: int, radius: int) -> set[int]:
    distances = np.bitwise_count(hashes ^ np.uint64(query))
    return set(np.flatnonzero(distances <= radius).tolist())


@pytest.fixture(scope="module")
def planted():
    """50k random hashes plus, for 100 of them, copies 0..14 bits away (keys from 1,000,000)."""
    rng = np.random.default_rng(RNG_SEED)
    hashes = rng.integers(0, 2**64 - 1, size=50_000, dtype=np.uint64, endpoint=True)
    extra, expected = [], {}
    for base in range(100):
        for bits in range(15):
            key = 1_000_000 + len(extra)
            extra.append(_flip(int(hashes[base]), bits, rng))
            expected[key] = (base, bits)
    keys = np.concatenate([np.arange(50_000), 1_000_000 + np.arange(len(extra))])
    all_hashes = np.concatenate([hashes, np.array(extra, dtype=np.uint64)])
    return keys, all_hashes, expected


def test_index_finds_exactly_what_brute_force_finds_within_ten_bits(planted):
    keys, hashes, _ = planted
    index = PhashIndex.build(keys, hashes)
    rng = np.random.default_rng(1)
    queries = [int(hashes[i]) for i in range(100)]
    queries += [_flip(int(hashes[i]), 5, rng) for i in range(100, 150)]
    queries += rng.integers(0, 2**64 - 1, size=50, dtype=np.uint64).tolist()
    for query in queries:
        found = {m.key: m.distance for m in index.search(query)}
        expected = {int(keys[i]) for i in _brute_force(hashes, query, 10)}
        assert set(found) == expected
        assert all(
            d == hamming(query, int(hashes[np.searchsorted(keys, k)])) for k, d in found.items()
        )


def test_every_planted_copy_within_the_threshold_is_found_and_none_beyond(planted):
    keys, hashes, expected = planted
    index = PhashIndex.build(keys, hashes)
    for base in range(100):
        found = {m.key for m in index.search(int(hashes[base]))}
        for key, (source, bits) in expected.items():
            if source == base:
                assert (key in found) == (bits <= 10), (base, bits)


@pytest.mark.parametrize("radius", [0, 1, 3, 7, 12, 16])
def test_other_radii_match_brute_force(planted, radius):
    keys, hashes, _ = planted
    index = PhashIndex.build(keys, hashes)
    for base in range(0, 100, 7):
        query = int(hashes[base])
        found = {m.key for m in index.search(query, max_distance=radius)}
        assert found == {int(keys[i]) for i in _brute_force(hashes, query, radius)}


def test_results_come_nearest_first():
    index = PhashIndex.build([1, 2, 3], [0b111, 0, 0b1])
    assert [(m.key, m.distance) for m in index.search(0)] == [(2, 0), (3, 1), (1, 3)]


def test_signed_and_unsigned_forms_of_a_hash_are_the_same_hash():
    unsigned = 0xF0F0_0000_0000_1234
    index = PhashIndex()
    index.add(7, signed64(unsigned))
    assert [m.key for m in index.search(unsigned)] == [7]
    assert to_unsigned(signed64(unsigned)) == unsigned
    assert hamming(signed64(unsigned), unsigned ^ 0b11) == 2


def test_additions_removals_and_replacements_survive_compaction():
    rng = np.random.default_rng(3)
    index = PhashIndex(buffer_limit=64)
    reference: dict[int, int] = {}
    for key in range(500):
        value = int(rng.integers(0, 2**64 - 1, dtype=np.uint64))
        index.add(key, value)
        reference[key] = value
    for key in range(0, 500, 3):
        index.remove(key)
        del reference[key]
    for key in range(1, 500, 9):  # a key's new hash replaces its old one
        reference[key] = reference.get(key, 0) ^ 0xFFFF_0000_0000_0000
        index.add(key, reference[key])
    assert len(index) == len(reference)
    for key, value in list(reference.items())[:60]:
        found = {m.key for m in index.search(value, max_distance=4)}
        assert key in found
        assert found == {k for k, v in reference.items() if hamming(v, value) <= 4}
    assert 0 not in index and 1 in index
    index.compact()
    assert len(index) == len(reference) and 1 in index


def test_a_million_hashes_take_well_under_a_hundred_megabytes():
    rng = np.random.default_rng(5)
    index = PhashIndex.build(
        np.arange(1_000_000), rng.integers(0, 2**64 - 1, size=1_000_000, dtype=np.uint64)
    )
    assert 30 * 2**20 < index.nbytes < 100 * 2**20


FLOOD_EN = [
    "URGENT!!! Lily (8) was seen at Central Station near platform 4 at 5pm today with a tall man "
    "in a black hoodie. Please share, police have been told!",
    "urgent - Lily, 8, was seen at central station near platform 4 around 5pm today with a tall "
    "man in a black hoodie. PLEASE SHARE police have been told",
    "URGENT Lily (8) was seen at Central Station near platform 4 at 5pm today with a tall man in "
    "a black hoodie. Please share, police have been told! Share to your groups",
    "Lily (8) was seen at Central Station near platform 4 at 5pm today with a tall man in a "
    "black hoodie. Please share!",
]
UNRELATED_EN = [
    "I think I saw Lily at Central Station this afternoon, she was with a man, near the ticket "
    "machines",
    "A girl who looks like Lily was at the supermarket on King Street at 5pm today, in a red coat",
    "Saw a child crying near platform 4 at Central Station, a tall man was pulling her arm, 5pm",
]
FLOOD_ZH = [
    "紧急！！8岁女孩莉莉今天下午5点在西安火车站4号站台附近被看到，和一个穿黑色连帽衫的高个子男人在一起。请转发，已经报警！",
    "紧急! 8岁女孩莉莉今天下午五点在西安火车站4号站台附近被人看到，"
    "跟一个穿黑色连帽衫的高个男人在一起，请大家转发，已报警",
    "8岁女孩莉莉今天下午5点在西安火车站4号站台附近被看到，和一个穿黑色连帽衫的高个子男人在一起。请转发！",
]
UNRELATED_ZH = [
    "我好像在西安火车站看到莉莉了，她和一个男人在售票机旁边",
    "今天下午五点左右在超市门口看到一个很像莉莉的女孩，穿着红色外套",
    "下午5点在西安火车站4号站台看到一个小女孩在哭，一个高个子男人拉着她",
]


@pytest.mark.parametrize(
    ("flood", "unrelated"), [(FLOOD_EN, UNRELATED_EN), (FLOOD_ZH, UNRELATED_ZH)]
)
def test_a_copy_paste_flood_with_small_edits_is_caught_and_unrelated_texts_are_not(
    flood, unrelated
):
    candidates = dict(enumerate(flood[1:] + unrelated, start=1))
    found = {m.key for m in near_copies(flood[0], candidates)}
    assert found == set(range(1, len(flood)))


def test_normalising_ignores_case_spacing_and_punctuation_in_any_script():
    assert normalise_text("  Seen   HER, at the\tStation!! ") == "seen her at the station"
    assert normalise_text("在 西安 火车站，看到 她！") == "在西安火车站看到她"
    assert (
        similarity("Saw Lily at the Central Station, 5pm!!", "saw lily at the central station 5pm")
        == 100
    )


def test_short_texts_are_never_called_copies():
    assert near_copies("seen her", {1: "seen her", 2: "Seen her!"}) == []
    assert near_copies("看到她了", {1: "看到她了"}) == []
