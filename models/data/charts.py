"""Procedural charts: bar, line, pie and scatter plots with benign titles, labels and numbers.

Screenshots of charts are among the commonest benign images that carry text (a title, tick
labels, a legend), and nothing in training looks like them. The out-of-distribution benign set
(``models/suite/benign_images.py``) posts them with bland captions: a chart's words, read by
OCR, must not move a harm score. Every chart is a pure function of its background string
``chart:KIND:SEED`` and its size, like the procedural art (``models/data/art.py``), so OCR reads
cached by the meme spec's key stay valid.

The titles and labels below were written for this set; they name everyday quantities only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .seeded import Drawing, SeededDrawings

#: (title, what the values count) pairs.
TOPICS: tuple[tuple[str, str], ...] = (
    ("Monthly rainfall", "millimetres"),
    ("Library visits per week", "visits"),
    ("Bike rentals by station", "rentals"),
    ("Average daily temperature", "degrees"),
    ("Tickets sold", "tickets"),
    ("Garden harvest", "kilograms"),
    ("Steps walked", "thousand steps"),
    ("Website sign-ups", "accounts"),
    ("Bus passengers", "passengers"),
    ("Coffee orders", "cups"),
    ("Solar panel output", "kilowatt hours"),
    ("Reading time", "minutes"),
    ("Survey answers", "responses"),
    ("Energy use at home", "units"),
    ("Parcels delivered", "parcels"),
    ("Swimming pool visitors", "people"),
)
#: Category axes: one of these sets labels a chart's bars, points or slices.
CATEGORY_SETS: tuple[tuple[str, ...], ...] = (
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    ("Q1", "Q2", "Q3", "Q4"),
    ("North", "South", "East", "West", "Central"),
    ("Apples", "Pears", "Plums", "Cherries", "Grapes", "Lemons"),
    ("Week 1", "Week 2", "Week 3", "Week 4", "Week 5", "Week 6"),
    ("Morning", "Noon", "Afternoon", "Evening"),
    ("Team A", "Team B", "Team C", "Team D"),
)
SERIES_NAMES: tuple[str, ...] = ("2024", "2025", "last year", "this year", "target", "actual")
#: Plot colours (a common charting palette's tones).
COLOURS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
)


def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (bold: DejaVu Sans Bold) as the meme generator finds it, else Pillow's own font."""
    from .memes import font_path

    path = font_path(0 if bold else 1)  # the generator's faces 0 and 1
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


class _Canvas:
    """A white page with a title and a plot area whose value axis runs from 0 to ``top``."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, title: str) -> None:
        page = (255, 255, 255) if rng.random() < 0.7 else (246, 246, 242)
        self.image = Image.new("RGB", (width, height), page)
        self.draw = ImageDraw.Draw(self.image)
        self.label_font = _font(max(11, height // 34))
        title_font = _font(max(14, height // 22), bold=True)
        self.draw.text((width // 2, 10), title, font=title_font, fill=(25, 25, 25), anchor="ma")
        self.left, self.top = width // 7, height // 7
        self.right, self.bottom = width - width // 16, height - height // 7

    def value_axis(self, top: float, unit: str) -> Callable[[float], float]:
        """Draw the y axis with gridlines and tick labels; returns value → pixel row."""
        span = self.bottom - self.top

        def row(value: float) -> float:
            return self.bottom - span * value / top

        for i in range(5):
            value = top * i / 4
            y = row(value)
            self.draw.line((self.left, y, self.right, y), fill=(225, 225, 225))
            label = f"{value:,.0f}" if top >= 20 else f"{value:.1f}"
            self.draw.text((self.left - 6, y), label, font=self.label_font, fill=(60, 60, 60), anchor="rm")
        self.draw.line((self.left, self.top, self.left, self.bottom), fill=(80, 80, 80), width=2)
        self.draw.line((self.left, self.bottom, self.right, self.bottom), fill=(80, 80, 80), width=2)
        self.draw.text((self.left, self.top - 8), unit, font=self.label_font, fill=(60, 60, 60), anchor="ld")
        return row

    def category_labels(self, labels: tuple[str, ...], centres: list[float]) -> None:
        for label, x in zip(labels, centres, strict=True):
            self.draw.text((x, self.bottom + 6), label, font=self.label_font, fill=(60, 60, 60), anchor="ma")

    def legend(self, names: list[str], colours: list[tuple[int, int, int]], x: int, y: int) -> None:
        step = int(self.label_font.size * 1.5) if isinstance(self.label_font, ImageFont.FreeTypeFont) else 16
        for i, (name, colour) in enumerate(zip(names, colours, strict=True)):
            top = y + i * step
            self.draw.rectangle((x, top, x + 12, top + 12), fill=colour)
            self.draw.text((x + 18, top + 6), name, font=self.label_font, fill=(40, 40, 40), anchor="lm")


def _choose(rng: np.random.Generator, items: tuple[str, ...], count: int) -> list[str]:
    return [items[int(i)] for i in rng.choice(len(items), size=count, replace=False)]


def _categories(rng: np.random.Generator) -> tuple[str, ...]:
    labels = CATEGORY_SETS[int(rng.integers(len(CATEGORY_SETS)))]
    count = int(rng.integers(min(4, len(labels)), min(8, len(labels)) + 1))
    start = int(rng.integers(0, len(labels) - count + 1))
    return labels[start : start + count]


def _bar(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    title, unit = TOPICS[int(rng.integers(len(TOPICS)))]
    labels = _categories(rng)
    series = int(rng.integers(1, 3))
    values = rng.uniform(0.15, 1.0, size=(series, len(labels))) * float(rng.choice([10, 50, 120, 800, 2500]))
    canvas = _Canvas(rng, width, height, title)
    row = canvas.value_axis(float(values.max()) * 1.15, unit)
    slot = (canvas.right - canvas.left) / len(labels)
    bar = slot * 0.7 / series
    colours = [COLOURS[int(i)] for i in rng.choice(len(COLOURS), size=series, replace=False)]
    for j in range(len(labels)):
        for s in range(series):
            x = canvas.left + j * slot + slot * 0.15 + s * bar
            canvas.draw.rectangle(
                (x, row(float(values[s, j])), x + bar - 1, canvas.bottom - 1), fill=colours[s]
            )
    canvas.category_labels(labels, [canvas.left + (j + 0.5) * slot for j in range(len(labels))])
    if series > 1:
        canvas.legend(_choose(rng, SERIES_NAMES, series), colours, canvas.right - width // 5, canvas.top)
    return canvas.image


def _line(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    title, unit = TOPICS[int(rng.integers(len(TOPICS)))]
    labels = _categories(rng)
    series = int(rng.integers(1, 4))
    scale = float(rng.choice([10, 40, 300, 1200]))
    walks = np.cumsum(rng.normal(0, 0.15, size=(series, len(labels))), axis=1) + rng.uniform(
        0.4, 0.8, (series, 1)
    )
    values = np.clip(walks, 0.05, None) * scale
    canvas = _Canvas(rng, width, height, title)
    row = canvas.value_axis(float(values.max()) * 1.2, unit)
    slot = (canvas.right - canvas.left) / len(labels)
    xs = [canvas.left + (j + 0.5) * slot for j in range(len(labels))]
    colours = [COLOURS[int(i)] for i in rng.choice(len(COLOURS), size=series, replace=False)]
    for s in range(series):
        points = [(x, row(float(v))) for x, v in zip(xs, values[s], strict=True)]
        canvas.draw.line(points, fill=colours[s], width=3)
        for x, y in points:
            canvas.draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colours[s])
    canvas.category_labels(labels, xs)
    if series > 1:
        canvas.legend(_choose(rng, SERIES_NAMES, series), colours, canvas.left + 12, canvas.top)
    return canvas.image


def _pie(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    title, _ = TOPICS[int(rng.integers(len(TOPICS)))]
    labels = _categories(rng)[: int(rng.integers(3, 7))]
    shares = rng.dirichlet(np.full(len(labels), 2.0))
    canvas = _Canvas(rng, width, height, title)
    radius = min(width // 2 - width // 10, canvas.bottom - canvas.top) // 2
    cx, cy = width // 3 + width // 20, (canvas.top + canvas.bottom) // 2
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(labels))]
    start = -90.0
    for share, colour in zip(shares, colours, strict=True):
        end = start + 360.0 * float(share)
        canvas.draw.pieslice((cx - radius, cy - radius, cx + radius, cy + radius), start, end, fill=colour)
        middle = math.radians((start + end) / 2)
        if share >= 0.06:
            x, y = cx + 0.62 * radius * math.cos(middle), cy + 0.62 * radius * math.sin(middle)
            canvas.draw.text(
                (x, y), f"{share:.0%}", font=canvas.label_font, fill=(255, 255, 255), anchor="mm"
            )
        start = end
    canvas.legend(list(labels), colours, cx + radius + width // 12, canvas.top + height // 10)
    return canvas.image


def _scatter(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    title, unit = TOPICS[int(rng.integers(len(TOPICS)))]
    count = int(rng.integers(20, 70))
    x = rng.uniform(0.05, 0.95, size=count)
    y = np.clip(0.2 + 0.6 * x * float(rng.uniform(-1, 1)) + rng.normal(0, 0.12, size=count), 0.02, None)
    canvas = _Canvas(rng, width, height, title)
    top = float(rng.choice([5, 20, 100, 600]))
    row = canvas.value_axis(top * float(y.max()) * 1.15, unit)
    colour = COLOURS[int(rng.integers(len(COLOURS)))]
    for xi, yi in zip(x, y, strict=True):
        px = canvas.left + float(xi) * (canvas.right - canvas.left)
        py = row(top * float(yi))
        canvas.draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill=colour)
    labels = ("low", "medium", "high") if rng.random() < 0.5 else ("0", "5", "10", "15", "20")
    centres = [
        canvas.left + (i + 0.5) * (canvas.right - canvas.left) / len(labels) for i in range(len(labels))
    ]
    canvas.category_labels(labels, centres)
    return canvas.image


KIND_RENDERERS: dict[str, Drawing] = {
    "bar": _bar,
    "line": _line,
    "pie": _pie,
    "scatter": _scatter,
}
KINDS: tuple[str, ...] = tuple(KIND_RENDERERS)
CHARTS = SeededDrawings("chart", "chart kind", KIND_RENDERERS)


def chart_background(kind: str, seed: int) -> str:
    """The :class:`~models.data.memes.MemeSpec` background string of one chart."""
    return CHARTS.background(kind, seed)


def render_chart(background: str, width: int, height: int) -> Image.Image:
    """Draw ``chart:KIND:SEED`` at the given size (deterministic)."""
    return CHARTS.render(background, width, height)
