"""Face test images: two public-domain portraits, two faceless photos, and transformed copies."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from core.faces import Box, Face

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "faces"
PEOPLE = ("astronaut", "grace_hopper")
FACELESS = ("rocket", "chelsea")
# Where each portrait's face is (measured once with dlib, rounded): x, y, w, h.
FACE_AT = {"astronaut": (175, 76, 91, 91), "grace_hopper": (180, 139, 187, 187)}


@functools.cache
def raw(name: str) -> bytes:
    """A fixture's bytes."""
    return (FIXTURES / f"{name}.jpg").read_bytes()


def image(name: str) -> Image.Image:
    """A fixture as an RGB image."""
    with Image.open(io.BytesIO(raw(name))) as opened:
        return opened.convert("RGB")


def jpeg(picture: Image.Image, *, quality: int = 90) -> bytes:
    """A plain JPEG re-encode, as the photo pipeline's display copies are."""
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _rotate(angle: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor="gray")


def _in_big_photo(im: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (2048, 1536), (90, 120, 90))
    canvas.paste(im, (1400, 900))
    return canvas


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "half size": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "three times": lambda im: im.resize((im.width * 3, im.height * 3), Image.Resampling.LANCZOS),
    "turned 8°": _rotate(8),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.4),
    "darker": lambda im: ImageEnhance.Brightness(im).enhance(0.6),
    "jpeg q25": lambda im: Image.open(io.BytesIO(jpeg(im, quality=25))),
    "small in a big photo": _in_big_photo,
}


def transformed(name: str, how: str) -> bytes:
    """A fixture transformed (scaled, turned, relit, recompressed), as a JPEG."""
    return jpeg(TRANSFORMS[how](image(name)))


def landscape() -> bytes:
    """A synthetic landscape: sky gradient, hills, a lake; nothing like a face."""
    rows, cols = np.mgrid[0:480, 0:720]
    y, x = rows / 480.0, cols / 720.0
    pixels = np.stack([120 + 80 * y, 170 + 60 * y, 255 - 30 * y], axis=-1)
    pixels[y > 0.55 + 0.08 * np.sin(x * 9.0)] = (60, 120, 50)
    pixels[y > 0.85] = (40, 70, 140)
    return jpeg(Image.fromarray(pixels.astype(np.uint8)))


def synthetic_vector(seed: int, *, near: np.ndarray | None = None, by: float = 0.0) -> np.ndarray:
    """A dlib-like 128-d vector (norm about 1.4), or one at distance `by` from `near`."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=128).astype(np.float32)
    direction /= np.linalg.norm(direction)
    if near is None:
        return (direction * 1.4).astype(np.float32)
    return (near + direction * by).astype(np.float32)


class FakeEngine:
    """An Embedder answering from a table of image bytes to vectors; counts its calls."""

    def __init__(self, faces: dict[bytes, list[np.ndarray]] | None = None) -> None:
        self.faces = faces or {}
        self.calls = 0

    def embed(self, image: bytes) -> list[Face]:
        self.calls += 1
        if image == b"broken":
            raise ValueError("cannot identify image file")
        return [
            Face(box=Box(10 * i, 10, 80, 80), vector=vector, score=1.0)
            for i, vector in enumerate(self.faces.get(image, []))
        ]
