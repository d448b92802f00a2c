"""A hostile (and a friendly) photo corpus, built in memory at test time in well under a second."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

from PIL import ExifTags, Image, ImageCms, PngImagePlugin

GPS_LAT = 51.504166  # 51°30'15" N
GPS_LON = -0.1275  # 0°7'39" W
SCRIPT = b"<script>alert('tipline')</script>"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>GPSLatitude 51,30.25N</rdf:RDF></x:xmpmeta>'
COMMENT = b"shot by tipster 5551234 near 51.5041,-0.1275"
RED, BLUE = (220, 20, 20), (20, 20, 220)


def _two_tone(size: tuple[int, int]) -> Image.Image:
    """Left half red, right half blue: orientation is visible in the pixels."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def evidence_exif(*, orientation: int = 6) -> Image.Exif:
    """EXIF with GPS, capture time, camera and orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS Test"
    exif[ExifTags.Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[36867] = "2024:05:01 14:03:22"
    sub[36881] = "+02:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = "N", (51.0, 30.0, 15.0)
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)
    return exif


def icc_profile() -> bytes:
    """An sRGB ICC profile, as phones embed."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_with_everything(size: tuple[int, int] = (400, 200)) -> bytes:
    """A normal phone-like JPEG: EXIF GPS, orientation 6, camera, XMP, ICC and a COM segment."""
    out = io.BytesIO()
    _two_tone(size).save(
        out,
        "JPEG",
        quality=90,
        exif=evidence_exif(),
        icc_profile=icc_profile(),
        xmp=XMP,
        comment=COMMENT,
    )
    return out.getvalue()


def plain_jpeg(size: tuple[int, int] = (400, 200), *, quality: int = 90) -> bytes:
    """A JPEG with no metadata at all."""
    out = io.BytesIO()
    _two_tone(size).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_with_text() -> bytes:
    """A PNG with tEXt, zTXt and iTXt chunks carrying things that must not leak."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT.decode())
    info.add_text("Description", SCRIPT.decode(), zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    _two_tone((300, 150)).convert("RGBA").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def webp_with_exif() -> bytes:
    """A WEBP carrying EXIF (with GPS) and XMP."""
    out = io.BytesIO()
    _two_tone((320, 240)).save(out, "WEBP", exif=evidence_exif(orientation=1), xmp=XMP)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 30_000) -> bytes:
    """A valid-looking side x side greyscale PNG whose IDAT is a small zlib stream of zeros."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # the first rows; enough to start inflating
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


@functools.cache
def png_of_zeros(side: int) -> bytes:
    """A complete side x side RGB PNG of black pixels: small on disk, heavy to decode and resize."""
    compressor = zlib.compressobj(1)
    rows = b"\x00" * (side * 3 + 1) * 100
    data = b"".join(compressor.compress(rows) for _ in range(side // 100))
    data += compressor.compress(b"\x00" * (side * 3 + 1) * (side % 100)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def gif_bomb(side: int = 30_000) -> bytes:
    """A GIF whose logical screen and frame claim side x side pixels."""
    screen = struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b"\x3b"


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _insert_after_soi(jpeg: bytes, segments: bytes) -> bytes:
    return jpeg[:2] + segments + jpeg[2:]


def jpeg_with_huge_app_segments(total: int = 2 * 1024 * 1024) -> bytes:
    """A valid JPEG carrying ~2 MB of APP1/APP2/APP13 segments (64 KB each, the format's max)."""
    chunk = 65_000
    payloads = [
        b"Exif\x00\x00" + b"MM\x00\x2a" + b"\xff" * (chunk - 10),  # broken EXIF
        b"http://ns.adobe.com/xap/1.0/\x00" + XMP + SCRIPT * 1000,
        b"ICC_PROFILE\x00\x01\x01" + b"\x00" * (chunk - 14),
        b"Photoshop 3.0\x00" + COMMENT * 1000,
    ]
    markers = [0xFFE1, 0xFFE1, 0xFFE2, 0xFFED]
    segments = []
    for index in range(total // chunk + 1):
        payload = payloads[index % 4].ljust(chunk, b" ")[:chunk]
        segments.append(_segment(markers[index % 4], payload))
    return _insert_after_soi(plain_jpeg(), b"".join(segments))


def jpeg_html_polyglot() -> bytes:
    """A JPEG that a browser sniffing for HTML would also run: <script> inside a COM segment."""
    html = b"<html><body>" + SCRIPT + b"</body></html>"
    return _insert_after_soi(plain_jpeg(), _segment(0xFFFE, html))


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header is rewritten to claim width x height."""
    data = bytearray(plain_jpeg((64, 64)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def truncated_jpeg() -> bytes:
    """The first half of a JPEG, as an interrupted upload leaves it."""
    data = plain_jpeg((400, 300), quality=95)
    return data[: len(data) // 2]


def psd_bytes() -> bytes:
    """The start of a Photoshop document."""
    return b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 100, 100, 8, 3) + b"\x00" * 64


def pdf_bytes() -> bytes:
    """A minimal PDF."""
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def svg_bytes() -> bytes:
    """An SVG with a script, the classic stored-XSS upload."""
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        + SCRIPT
        + b"</svg>"
    )


def zip_bytes() -> bytes:
    """A ZIP archive (named photo.jpg by whoever sends it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", plain_jpeg())
    return out.getvalue()


def html_bytes() -> bytes:
    """An HTML page."""
    return b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>"


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to and including SOS."""
    markers, pos = [0xFFD8], 2
    while pos + 4 <= len(data):
        marker, length = struct.unpack_from(">HH", data, pos)
        markers.append(marker)
        if marker == 0xFFDA:
            break
        pos += 2 + length
    return markers


def heic_with_exif() -> bytes:
    """An iPhone-style HEIC carrying EXIF GPS (needs the optional pillow-heif encoder)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    _two_tone((400, 200)).save(out, "HEIF", exif=evidence_exif(orientation=1), quality=80)
    return out.getvalue()
