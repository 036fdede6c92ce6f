"""The Pillow side of the photo pipeline, with no database: check an upload cheaply, then make the
served copies. Everything here treats the bytes as hostile.

Acceptance (`inspect_upload`) reads headers only: format from the magic bytes (allowlist), pixel
count from the header (before any decoding), structural completeness (a truncated file is refused
now), EXIF capture time and GPS. The full decode happens in the background job (`render_copies`).
"""

from __future__ import annotations

import math
import mmap
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import IO

from PIL import ExifTags, Image, ImageDraw, ImageFont, ImageOps

from backend.errors import PayloadTooLarge, UnsupportedImage
from backend.timeutil import LOCAL_TZ

DISPLAY_SIDE = 1280
THUMB_SIDE = 320
DISPLAY_QUALITY = 82
THUMB_QUALITY = 78

# Fonts with Chinese glyphs, first found wins (config PHOTO_LABEL_FONT overrides).
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

_ORIENTATION = 0x0112
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011


@dataclass(frozen=True)
class UploadInfo:
    format: str  # "jpeg" | "png" | "webp"
    width: int  # upright (EXIF orientation applied)
    height: int
    taken_at: datetime | None
    gps: tuple[float, float] | None


@dataclass(frozen=True)
class Copies:
    display: bytes
    thumb: bytes
    dhash: str


# The bytes of an upload: in memory, or mapped from the file it was received into (no copy).
Bytes = bytes | mmap.mmap


def _magic_format(head: Bytes) -> str | None:
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def allowed_head(head: bytes) -> bool:
    """Whether the first bytes of an upload still arriving can be an image we take (the rest is not stored)."""
    return _magic_format(head) is not None


def sniff_format(data: Bytes) -> str:
    """The format from the magic bytes; the file name and Content-Type are never trusted."""
    fmt = _magic_format(data)
    if fmt is None:
        raise UnsupportedImage("只支持 JPEG、PNG、WebP 格式的照片")
    return fmt


def _readable(data: Bytes) -> IO[bytes]:
    """A file over the bytes for Pillow: a mapped upload is file-like itself, BytesIO would copy it."""
    if isinstance(data, mmap.mmap):
        data.seek(0)
        return data  # type: ignore[return-value]
    return BytesIO(data)


def open_image(data: Bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Open (header only) with the format pinned and both our pixel cap and Pillow's bomb guard as errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(_readable(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(max_pixels) from exc
    except Exception as exc:  # any parser failure on hostile bytes means "not an image we take"
        raise UnsupportedImage() from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise UnsupportedImage()
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    return image


def _too_many_pixels(max_pixels: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"图片像素过多（上限 {max_pixels // 1_000_000} 百万像素）")


def inspect_upload(data: Bytes, max_pixels: int, *, now: datetime) -> UploadInfo:
    """Everything acceptance needs, without decoding pixel data (a few milliseconds for a 12 MP photo)."""
    fmt = sniff_format(data)
    image = open_image(data, fmt, max_pixels)
    _check_complete(data, fmt)
    try:
        exif = image.getexif()
        orientation = int(exif.get(_ORIENTATION, 1))
    except Exception:  # broken EXIF is ignored, the pixels may still be fine
        exif, orientation = Image.Exif(), 1
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return UploadInfo(fmt.lower(), width, height, _taken_at(exif, now), _gps(exif))


def _check_complete(data: Bytes, fmt: str) -> None:
    """Refuse truncated files now, cheaply: the job would fail on them anyway, too late for the phone."""
    if fmt == "JPEG":
        scan = _jpeg_first_scan(data)
        # No EOI after the first scan = cut short. Data after EOI (Motion Photo video, maker trailers) is fine.
        # Searched from the end, where it is: a few bytes read instead of the whole file.
        if scan is None or data.rfind(b"\xff\xd9", scan) < 0:
            raise UnsupportedImage("照片不完整（可能上传中断），请重新上传")
    elif fmt == "WEBP":
        if int.from_bytes(data[4:8], "little") + 8 > len(data):
            raise UnsupportedImage("照片不完整（可能上传中断），请重新上传")
    else:
        try:
            with Image.open(_readable(data), formats=["PNG"]) as png:
                png.verify()  # chunk CRCs up to IEND; no inflating
        except Exception as exc:
            raise UnsupportedImage("照片不完整或已损坏，请重新上传") from exc


def _jpeg_first_scan(data: Bytes) -> int | None:
    """Offset of the first SOS segment, walking the marker segments (skipping EXIF and its thumbnail)."""
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return pos
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _taken_at(exif: Image.Exif, now: datetime) -> datetime | None:
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
        if not raw:
            return None
        moment = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        offset = sub.get(_OFFSET_TIME_ORIGINAL)
        tz = _parse_offset(str(offset)) if offset else LOCAL_TZ
        taken = moment.replace(tzinfo=tz).astimezone(UTC)
    except Exception:  # a phone's clock text is not worth failing an upload over
        return None
    # Clocks left at 1970 or set in the future say nothing about when the photo was taken.
    if taken.year < 2000 or taken > now + timedelta(days=1):
        return None
    return taken


def _parse_offset(text: str) -> timezone:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if not gps or 2 not in gps or 4 not in gps:
            return None
        lat = _degrees(gps[2]) * (-1 if str(gps.get(1, "N")).upper().startswith("S") else 1)
        lng = _degrees(gps[4]) * (-1 if str(gps.get(3, "E")).upper().startswith("W") else 1)
    except Exception:
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None
    return round(lat, 6), round(lng, 6)


def _degrees(dms: tuple) -> float:
    d, m, s = (float(part) for part in dms)
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        raise ValueError("GPS value is not finite")
    return value


def render_copies(
    data: bytes, fmt: str, max_pixels: int, *, label: str | None = None, font_path: str | None = None
) -> Copies:
    """Decode once (JPEG in draft mode near the display size), turn upright from EXIF, flatten to RGB,
    and encode the display copy and the thumbnail as JPEG with no metadata at all.

    Raises UnsupportedImage when the pixel data is corrupt (the header was fine at acceptance).
    """
    image = open_image(data, fmt.upper(), max_pixels)
    try:
        if image.format == "JPEG":
            # libjpeg decodes straight to 1/2, 1/4 or 1/8 scale: most of the time saved on a phone photo.
            image.draft("RGB", (DISPLAY_SIDE, DISPLAY_SIDE))
        # Orientation BEFORE metadata goes: afterwards nothing would say which way is up.
        upright = ImageOps.exif_transpose(image)
        display = _flatten(upright)
    except (PayloadTooLarge, UnsupportedImage):
        raise
    except Exception as exc:  # truncated or corrupt scan data, decoder errors
        raise UnsupportedImage() from exc
    display.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.BICUBIC)
    thumb = display.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BICUBIC)
    if label:
        draw_label(display, label, font_path)
    return Copies(_jpeg(display, DISPLAY_QUALITY), _jpeg(thumb, THUMB_QUALITY), dhash(thumb))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB with no info dict: transparency onto white, animation reduced to its first frame."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = image.convert("RGB")
    # Nothing of the original's metadata (EXIF, GPS, XMP, ICC, comments) may ride along to the copies.
    flat.info = {}
    return flat


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def dhash(image: Image.Image) -> str:
    """64-bit difference hash: each bit says whether a pixel is brighter than its right neighbour on a
    9×8 grey thumbnail. Recompression, resizing and small edits change few bits; another scene changes ~32."""
    small = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    pixels = small.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (pixels[row * 9 + col] > pixels[row * 9 + col + 1])
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def find_font(configured: str | None) -> str | None:
    for candidate in ([configured] if configured else []) + list(CJK_FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def draw_label(image: Image.Image, text: str, font_path: str | None) -> None:
    """The 温馨照片 label: one line of time · place · event on a dark band along the bottom.

    Without a font that has Chinese glyphs only the ASCII part (the time) is drawn, never boxes.
    """
    size = max(14, image.width // 42)
    if font_path:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(font_path, size)
    else:
        font = ImageFont.load_default(size)
        text = "".join(ch for ch in text if ch.isascii()).strip()
    if not text:
        return
    band = size + size // 2 * 2
    overlay = Image.new("RGBA", (image.width, band), (0, 0, 0, 140))
    image.paste(overlay, (0, image.height - band), overlay)
    ImageDraw.Draw(image).text(
        (size // 2, image.height - band + size // 2), text, fill=(255, 255, 255), font=font, anchor="la"
    )
