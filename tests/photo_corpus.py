"""Images made by the tests: honest phone photos (EXIF orientation, capture time, GPS, XMP) and a
hostile corpus (disguised documents, polyglots, truncations, giant headers, bombs, animations)."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

from PIL import ExifTags, Image

# The four quadrants of an upright test photo: any wrong rotation or mirror moves a colour.
QUADRANTS = {
    "top_left": (220, 30, 30),
    "top_right": (30, 200, 30),
    "bottom_left": (30, 30, 220),
    "bottom_right": (230, 220, 30),
}

# What exif_transpose does for each orientation, and so what we store to make an upright photo.
_STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
SECRET_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>33,9.0N</exif:GPSLatitude></x:xmpmeta>'


def upright(width: int = 300, height: int = 400) -> Image.Image:
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    image.paste(QUADRANTS["top_left"], (0, 0, half_w, half_h))
    image.paste(QUADRANTS["top_right"], (half_w, 0, width, half_h))
    image.paste(QUADRANTS["bottom_left"], (0, half_h, half_w, height))
    image.paste(QUADRANTS["bottom_right"], (half_w, half_h, width, height))
    return image


def phone_exif(
    orientation: int = 1,
    *,
    gps: tuple[float, float] | None = (33.1525, 107.3301),
    taken: str | None = "2026:11:20 09:30:00",
    description: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestPhone"
    if description is not None:
        exif[ExifTags.Base.ImageDescription] = description
    if taken is not None:
        exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: taken, ExifTags.Base.OffsetTimeOriginal: "+08:00"}
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: _dms(gps[0]),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: _dms(gps[1]),
        }
    return exif


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def phone_jpeg(orientation: int = 1, *, width: int = 300, height: int = 400, **exif_kwargs) -> bytes:  # type: ignore[no-untyped-def]
    """A JPEG that shows `upright(width, height)` once its EXIF orientation is applied."""
    image = upright(width, height)
    method = _STORE_AS[orientation]
    stored = image if method is None else image.transpose(method)
    buffer = BytesIO()
    stored.save(buffer, "JPEG", quality=90, exif=phone_exif(orientation, **exif_kwargs), xmp=SECRET_XMP)
    return buffer.getvalue()


def tiny_jpeg() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (120, 130, 140)).save(buffer, "JPEG")
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str, **params) -> bytes:  # type: ignore[no-untyped-def]
    buffer = BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like image whose structure depends on `seed` (another seed, another scene)."""
    small = Image.frombytes("L", (8, 6), bytes((seed * 37 + i * 91 + (i * seed) % 17) % 256 for i in range(48)))
    return small.resize(size, Image.Resampling.BICUBIC).convert("RGB")


def scene_jpeg(seed: int) -> bytes:
    return encode(scene(seed), "JPEG")


def jpeg_with_size_header(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header claims another size (e.g. 60000×60000)."""
    data = bytearray(tiny_jpeg())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(side: int = 20000) -> bytes:
    """A 1-bit PNG of side×side zero pixels: tens of KB on the wire, hundreds of MB once decoded as RGB."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((200, 20, 20), (20, 200, 20), (20, 20, 200))]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)


def polyglot_jpeg() -> bytes:
    """A valid JPEG carrying HTML in a comment segment and after its end: a browser sniffing it would run it."""
    html = b"<html><script>alert(document.cookie)</script></html>"
    image = encode(upright(64, 64), "JPEG", comment=html)
    return image + html


HOSTILE_REFUSED = {
    # name: (bytes factory, expected status, expected code)
    "html_named_jpeg": (lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>", 415, "unsupported_image"),
    "svg_named_jpeg": (
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
        415,
        "unsupported_image",
    ),
    "pdf_named_jpeg": (
        lambda: b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
        415,
        "unsupported_image",
    ),
    "jpeg_magic_then_html": (
        lambda: b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>",
        415,
        "unsupported_image",
    ),
    "gif": (lambda: encode(Image.new("P", (4, 4)), "GIF"), 415, "unsupported_image"),
    "truncated_jpeg": (lambda: phone_jpeg(width=600, height=800)[:-3000], 415, "unsupported_image"),
    "truncated_png": (lambda: encode(scene(3), "PNG")[:-500], 415, "unsupported_image"),
    "truncated_webp": (lambda: encode(scene(4), "WEBP")[:-200], 415, "unsupported_image"),
    "empty": (lambda: b"", 415, "unsupported_image"),
    "jpeg_60000_square_header": (lambda: jpeg_with_size_header(60000, 60000), 413, "payload_too_large"),
    "png_decompression_bomb": (png_bomb, 413, "payload_too_large"),
}
