#!/usr/bin/env python3
"""Draws the Hush app icon as PNG files for the web app manifest, with the standard library
only (so the build needs nothing more): a white speech bubble holding three dots, on the
accent blue. `any` icons are a rounded square; the `maskable` one fills the whole square and
keeps the bubble inside the central 80 % safe zone, as the maskable-icon format asks.

The PNG files are kept in crates/web/static/icons/ (drawing them takes half a minute);
after changing the drawing, regenerate them:

    python3 crates/web/tools/make_icons.py crates/web/static/icons
"""
import struct
import sys
import zlib
from pathlib import Path

ACCENT = (0x2F, 0x6F, 0xED)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # supersampling per axis, for smooth edges


def rounded_rect(x, y, left, top, right, bottom, radius):
    """Whether (x, y) lies in the rectangle with rounded corners."""
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def inside_triangle(x, y, a, b, c):
    def side(p, q):
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])
    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    negative = d1 < 0 or d2 < 0 or d3 < 0
    positive = d1 > 0 or d2 > 0 or d3 > 0
    return not (negative and positive)


def colour_at(u, v, maskable):
    """The colour at (u, v) in the unit square, or None where the icon is transparent."""
    if not maskable and not rounded_rect(u, v, 0, 0, 1, 1, 0.22):
        return None
    # Maskable icons may be cut to a circle of 80 % of the size: draw the bubble smaller.
    scale = 0.72 if maskable else 1.0

    def at(p):
        return 0.5 + (p - 0.5) / scale

    x, y = at(u), at(v)
    bubble = rounded_rect(x, y, 0.2, 0.24, 0.8, 0.7, 0.12) or inside_triangle(
        x, y, (0.3, 0.62), (0.46, 0.68), (0.26, 0.82)
    )
    if not bubble:
        return ACCENT
    for dot_x in (0.36, 0.5, 0.64):
        if (x - dot_x) ** 2 + (y - 0.47) ** 2 <= 0.05 ** 2:
            return ACCENT
    return WHITE


def render(size, maskable):
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter type: none
        for px in range(size):
            r = g = b = a = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    c = colour_at((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size, maskable)
                    if c is not None:
                        r, g, b, a = r + c[0], g + c[1], b + c[2], a + 1
            n = SAMPLES * SAMPLES
            row += bytes((r // a, g // a, b // a, 255 * a // n)) if a else bytes(4)
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size, raw):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "icon-192.png").write_bytes(render(192, maskable=False))
    (out / "icon-512.png").write_bytes(render(512, maskable=False))
    (out / "icon-maskable-512.png").write_bytes(render(512, maskable=True))


if __name__ == "__main__":
    main()
