"""A PNG encoder for the dashboards' pictures: plumbing, fast because a picture goes on every move.

A dashboard sends its picture to the browser each time a slider moves, perhaps over a room's
Wi-Fi, so the picture is compressed; and it is encoded in the kernel while the learner waits, so
the encoding must be quick. This module writes a plot's pixels as PNG about three times faster
than Pillow does (see ``encode_png``).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np


def encode_png(pixels: np.ndarray, compress_level: int = 3) -> bytes:
    """An RGB image (``height x width x 3`` bytes) as PNG, quickly: every row "Up"-filtered.

    PNG compresses better when each row is stored as its difference from the row above
    (the "Up" filter of the PNG specification, RFC 2083 section 6): a plot is mostly
    rows that repeat, whose differences are runs of zeros. Pillow tries every filter on
    every row to pick the best, which costs about three times as long for this figure
    and makes it barely smaller; numpy computes the Up filter for the whole image at once,
    and zlib at level 3 does the rest.

    >>> import io, PIL.Image
    >>> pixels = np.zeros((2, 3, 3), dtype=np.uint8); pixels[1, 2] = (255, 0, 0)
    >>> bool((np.asarray(PIL.Image.open(io.BytesIO(encode_png(pixels)))) == pixels).all())
    True
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(
            f"pixels must be height x width x 3 bytes, got {pixels.dtype} {pixels.shape}"
        )
    height, width, _ = pixels.shape
    rows = np.empty((height, 1 + width * 3), dtype=np.uint8)
    rows[:, 0] = 2  # filter type 2, "Up"
    flat = pixels.reshape(height, width * 3)
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # modulo 256, as the filter defines it
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: its length, its kind, its data and the CRC of kind and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
