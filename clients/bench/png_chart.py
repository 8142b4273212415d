"""Line charts as PNG files with nothing but the standard library (zlib), for benchmark reports.

The benchmark machines have no plotting library, and a bench should not pull one in for one picture.
Each panel gets a title, y-axis tick labels and one or more polylines; text uses a 3x5 pixel font
drawn at 2x. Good enough to see a leak or a latency spike at a glance; the numbers live in the JSON.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

Color = tuple[int, int, int]
PALETTE: tuple[Color, ...] = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111", "J": "001001001101010",
    "K": "101101110101101", "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111", "V": "101101101101010",
    "W": "101101111111101", "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    ".": "000000000000010", "-": "000000111000000", "%": "101001010100101", "/": "001001010100100",
    "(": "010100100100010", ")": "010001001001010", ":": "000010000010000", " ": "000000000000000",
    ",": "000000000010100", "=": "000111000111000", "+": "000010111010000", "_": "000000000000111",
}  # fmt: skip
_SCALE = 2


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]


@dataclass
class Panel:
    title: str
    series: list[Series] = field(default_factory=list)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            at = (y * self.width + x) * 3
            self.pixels[at : at + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Bresenham: every pixel between the two ends, whatever the slope."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        while True:
            self.dot(x0, y0, color)
            if x0 == x1 and y0 == y1:
                return
            doubled = 2 * error
            if doubled >= dy:
                error += dy
                x0 += sx
            if doubled <= dx:
                error += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: Color = (0, 0, 0)) -> None:
        for index, char in enumerate(text.upper()):
            glyph = _GLYPHS.get(char, _GLYPHS[" "])
            for bit, on in enumerate(glyph):
                if on == "1":
                    gx, gy = x + index * 4 * _SCALE + (bit % 3) * _SCALE, y + (bit // 3) * _SCALE
                    for px in range(_SCALE):
                        for py in range(_SCALE):
                            self.dot(gx + px, gy + py, color)

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + bytes(self.pixels[y * self.width * 3 : (y + 1) * self.width * 3])
            for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b"")
        )


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    return [start + i * step for i in range(count + 2) if start + i * step <= high + step * 0.999]


def _label(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2g}"


def write_chart(
    path: Path, panels: list[Panel], x_label: str, width: int = 720, panel_height: int = 220
) -> None:
    """One PNG with the panels stacked; all panels share the x axis (`x_label`)."""
    left, right, top, bottom = 70, 16, 34, 28
    canvas = Canvas(width, panel_height * len(panels) + 24)
    for number, panel in enumerate(panels):
        y_offset = number * panel_height
        plot_w, plot_h = width - left - right, panel_height - top - bottom
        xs = [x for s in panel.series for x in s.xs] or [0.0, 1.0]
        ys = [y for s in panel.series for y in s.ys if math.isfinite(y)] or [0.0, 1.0]
        ticks = _ticks(min(0.0, min(ys)) if min(ys) >= 0 and min(ys) < 0.2 * max(ys) else min(ys), max(ys))
        y_low, y_high = ticks[0], ticks[-1]
        x_low, x_high = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

        def to_px(x: float, y: float, frame=(x_low, x_high, y_low, y_high, y_offset, plot_w, plot_h)):
            x0, x1, y0, y1, offset, w, h = frame
            return left + round((x - x0) / (x1 - x0) * w), offset + top + h - round(
                (y - y0) / ((y1 - y0) or 1) * h
            )

        canvas.text(left, y_offset + 8, panel.title)
        for tick in ticks:
            _, py = to_px(x_low, tick)
            canvas.line(left, py, left + plot_w, py, (225, 225, 225))
            canvas.text(4, py - 5, _label(tick))
        canvas.line(left, y_offset + top, left, y_offset + top + plot_h, (0, 0, 0))
        canvas.line(left, y_offset + top + plot_h, left + plot_w, y_offset + top + plot_h, (0, 0, 0))
        legend_x = left + plot_w // 2
        for index, series in enumerate(panel.series):
            color = PALETTE[index % len(PALETTE)]
            points = [to_px(x, y) for x, y in zip(series.xs, series.ys, strict=True) if math.isfinite(y)]
            for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
                canvas.line(x0, y0, x1, y1, color)
            if len(points) == 1:
                canvas.dot(*points[0], color)
            canvas.text(legend_x, y_offset + 8 + index * 12, series.label, color)
        canvas.text(left, y_offset + top + plot_h + 8, f"{_label(x_low)}")
        end_label = f"{_label(x_high)} {x_label}"
        canvas.text(left + plot_w - len(end_label) * 4 * _SCALE, y_offset + top + plot_h + 8, end_label)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canvas.png())
