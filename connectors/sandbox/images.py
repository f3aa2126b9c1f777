"""Product pictures the simulated stores serve themselves, so demo emails and pages load no CDN.

Layer: connectors/sandbox (pure). A small PNG per product name: a colour taken from the name's
hash with a lighter band, the same bytes every time.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

SIZE = 160
CONTENT_TYPE = "image/png"
CACHE_CONTROL = "public, max-age=86400"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def product_png(name: str, size: int = SIZE) -> bytes:
    """A `size`×`size` PNG for the product picture called `name`."""
    digest = hashlib.sha256(name.encode()).digest()
    base = tuple(96 + byte % 112 for byte in digest[:3])
    light = tuple(min(255, value + 60) for value in base)
    rows = []
    for y in range(size):
        band = size // 3 <= y < 2 * size // 3
        rows.append(b"\x00" + bytes(light if band else base) * size)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            _chunk(b"IEND", b""),
        )
    )
