"""Archive photos (stamped marks, label, inspection ring), stored by their content hash.

`PUT /v1/photos/{sha256}`: the path names the content's sha256, so a photo is stored once however
often it is sent, and an archive that lists the hash is bound to exactly those bytes. Its type is
the one its bytes show (`sniffed_type`), never the uploader's word: a page uploaded as a "PNG"
must not come back as something a browser would render.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import Connection, insert, select

from platform_server import schema as t
from platform_server.errors import ApiError

__all__ = ["MAX_PHOTO_BYTES", "sniffed_type", "store_photo"]

MAX_PHOTO_BYTES = 8 * 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TYPES = ("image/jpeg", "image/png", "image/webp")


def sniffed_type(content: bytes) -> str | None:
    """The image type the bytes' signature shows (JPEG, PNG, WebP), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def store_photo(
    conn: Connection, party: str, digest: str, content: bytes, content_type: str, at: str
) -> bool:
    """Store the photo; True when new, False when it was stored already."""
    if not _HEX64.fullmatch(digest):
        raise ApiError(
            422, "request.invalid", "the path must end in a sha256 (64 lowercase hex digits)", field="sha256"
        )
    if content_type.split(";")[0].strip() not in _TYPES:
        raise ApiError(415, "photo.bad_type", f"Content-Type must be one of {', '.join(_TYPES)}")
    if not content:
        raise ApiError(422, "request.invalid", "the photo is empty", field="(body)")
    sniffed = sniffed_type(content)
    if sniffed is None:
        raise ApiError(415, "photo.bad_type", f"the body is not an image of {', '.join(_TYPES)}")
    if hashlib.sha256(content).hexdigest() != digest:
        raise ApiError(
            422, "photo.hash_mismatch", "the body's sha256 is not the one in the path", field="sha256"
        )
    if conn.execute(select(t.photo.c.sha256).where(t.photo.c.sha256 == digest)).first() is not None:
        return False
    conn.execute(
        insert(t.photo).values(
            sha256=digest,
            content=content,
            content_type=sniffed,
            uploaded_by=party,
            at=at,
        )
    )
    return True
