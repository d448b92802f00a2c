"""A small QR code encoder (byte mode, error correction M, versions 1-10) rendering inline SVG.

Enough for an otpauth:// set-up URI, so the set-up page shows a scannable code without a new
dependency and without sending the TOTP secret to any third-party QR service.
Follows ISO/IEC 18004; the structure mirrors Project Nayuki's reference implementation.
"""

from __future__ import annotations

import itertools

from markupsafe import Markup

# version: (error correction codewords per block, [data codewords of each block]) at level M
_BLOCKS: dict[int, tuple[int, list[int]]] = {
    1: (10, [16]),
    2: (16, [28]),
    3: (26, [44]),
    4: (18, [32, 32]),
    5: (24, [43, 43]),
    6: (16, [27, 27, 27, 27]),
    7: (18, [31, 31, 31, 31]),
    8: (22, [38, 38, 39, 39]),
    9: (22, [36, 36, 36, 37, 37]),
    10: (26, [43, 43, 43, 43, 44]),
}
_ALIGN: dict[int, list[int]] = {
    1: [],
    2: [6, 18],
    3: [6, 22],
    4: [6, 26],
    5: [6, 30],
    6: [6, 34],
    7: [6, 22, 38],
    8: [6, 24, 42],
    9: [6, 26, 46],
    10: [6, 28, 50],
}
_LEVEL_M = 0  # the format bits of error correction level M
_QUIET = 4


def _gf_mul(x: int, y: int) -> int:
    z = 0
    for i in reversed(range(8)):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((y >> i) & 1) * x
    return z


def _rs_divisor(degree: int) -> list[int]:
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_mul(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_mul(root, 0x02)
    return result


def _rs_remainder(data: list[int], divisor: list[int]) -> list[int]:
    result = [0] * len(divisor)
    for byte in data:
        factor = byte ^ result.pop(0)
        result.append(0)
        for i, coefficient in enumerate(divisor):
            result[i] ^= _gf_mul(coefficient, factor)
    return result


def _codewords(data: bytes, version: int) -> list[int]:
    """Mode, length, data, terminator and padding; split into blocks; interleaved with EC."""
    ec_len, block_sizes = _BLOCKS[version]
    capacity = sum(block_sizes) * 8
    bits = "0100" + format(len(data), "016b" if version >= 10 else "08b")
    bits += "".join(format(b, "08b") for b in data)
    bits += "0" * min(4, capacity - len(bits))
    bits += "0" * (-len(bits) % 8)
    stream = [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]
    pad = [0xEC, 0x11]
    stream += [pad[i % 2] for i in range(capacity // 8 - len(stream))]
    blocks, start = [], 0
    for size in block_sizes:
        blocks.append(stream[start : start + size])
        start += size
    divisor = _rs_divisor(ec_len)
    ecc = [_rs_remainder(block, divisor) for block in blocks]
    out = [b[i] for i in range(max(block_sizes)) for b in blocks if i < len(b)]
    return out + [e[i] for i in range(ec_len) for e in ecc]


class _Matrix:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = 17 + 4 * version
        self.dark = [[False] * self.size for _ in range(self.size)]
        self.fixed = [[False] * self.size for _ in range(self.size)]

    def set_fixed(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.fixed[y][x] = True

    def draw_function_patterns(self) -> None:
        for i in range(self.size):
            self.set_fixed(6, i, i % 2 == 0)
            self.set_fixed(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (self.size - 4, 3), (3, self.size - 4)):
            self._finder(cx, cy)
        positions = _ALIGN[self.version]
        last = len(positions) - 1
        for i, ax in enumerate(positions):
            for j, ay in enumerate(positions):
                if (i, j) not in ((0, 0), (0, last), (last, 0)):
                    self._alignment(ax, ay)
        self.draw_format(0)
        self._version_info()

    def _finder(self, cx: int, cy: int) -> None:
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                x, y = cx + dx, cy + dy
                if 0 <= x < self.size and 0 <= y < self.size:
                    self.set_fixed(x, y, max(abs(dx), abs(dy)) not in (2, 4))

    def _alignment(self, cx: int, cy: int) -> None:
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                self.set_fixed(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)

    def draw_format(self, mask: int) -> None:
        data = _LEVEL_M << 3 | mask
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412
        bit = [(bits >> i) & 1 == 1 for i in range(15)]
        for i in range(6):
            self.set_fixed(8, i, bit[i])
        self.set_fixed(8, 7, bit[6])
        self.set_fixed(8, 8, bit[7])
        self.set_fixed(7, 8, bit[8])
        for i in range(9, 15):
            self.set_fixed(14 - i, 8, bit[i])
        for i in range(8):
            self.set_fixed(self.size - 1 - i, 8, bit[i])
        for i in range(8, 15):
            self.set_fixed(8, self.size - 15 + i, bit[i])
        self.set_fixed(8, self.size - 8, True)

    def _version_info(self) -> None:
        if self.version < 7:
            return
        rem = self.version
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        bits = self.version << 12 | rem
        for i in range(18):
            dark = (bits >> i) & 1 == 1
            a, b = self.size - 11 + i % 3, i // 3
            self.set_fixed(a, b, dark)
            self.set_fixed(b, a, dark)

    def draw_codewords(self, codewords: list[int]) -> None:
        i, total = 0, len(codewords) * 8
        right = self.size - 1
        while right >= 1:
            if right == 6:
                right = 5
            for vert in range(self.size):
                for j in range(2):
                    x = right - j
                    upward = (right + 1) & 2 == 0
                    y = self.size - 1 - vert if upward else vert
                    if not self.fixed[y][x] and i < total:
                        self.dark[y][x] = (codewords[i >> 3] >> (7 - (i & 7))) & 1 == 1
                        i += 1
            right -= 2

    def apply_mask(self, mask: int) -> None:
        for y in range(self.size):
            for x in range(self.size):
                if not self.fixed[y][x] and _MASKS[mask](x, y):
                    self.dark[y][x] = not self.dark[y][x]

    def penalty(self) -> int:
        """A simplified penalty (runs, 2x2 blocks, balance): enough to pick a readable mask."""
        score = 0
        lines = [*self.dark, *([row[x] for row in self.dark] for x in range(self.size))]
        for line in lines:
            run = 1
            for a, b in itertools.pairwise(line):
                run = run + 1 if a == b else 1
                score += 3 if run == 5 else (1 if run > 5 else 0)
        for y in range(self.size - 1):
            for x in range(self.size - 1):
                cell = self.dark[y][x]
                same = cell == self.dark[y][x + 1] == self.dark[y + 1][x] == self.dark[y + 1][x + 1]
                score += 3 if same else 0
        dark = sum(map(sum, self.dark))
        return score + abs(dark * 20 - self.size**2 * 10) // self.size**2 * 10


_MASKS = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)


def qr_matrix(text: str) -> list[list[bool]] | None:
    """The modules of a QR code for text (True is dark), or None when it is too long."""
    data = text.encode()
    for version, (_, blocks) in _BLOCKS.items():
        header = 4 + (16 if version >= 10 else 8)
        if header + 8 * len(data) <= sum(blocks) * 8:
            break
    else:
        return None
    codewords = _codewords(data, version)
    best: tuple[int, list[list[bool]]] | None = None
    for mask in range(8):
        matrix = _Matrix(version)
        matrix.draw_function_patterns()
        matrix.draw_codewords(codewords)
        matrix.apply_mask(mask)
        matrix.draw_format(mask)
        score = matrix.penalty()
        if best is None or score < best[0]:
            best = (score, matrix.dark)
    return best[1] if best else None


def qr_svg(text: str) -> Markup | None:
    """An inline SVG QR code for text (no script, no style), or None when it is too long."""
    modules = qr_matrix(text)
    if modules is None:
        return None
    side = len(modules) + 2 * _QUIET
    path = "".join(
        f"M{x + _QUIET},{y + _QUIET}h1v1h-1z"
        for y, row in enumerate(modules)
        for x, dark in enumerate(row)
        if dark
    )
    return Markup(  # noqa: S704 - built only from numbers, nothing of the input
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'width="{side * 5}" height="{side * 5}" role="img" aria-label="QR code">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )
