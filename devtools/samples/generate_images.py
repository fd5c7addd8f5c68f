"""Regenerate the demo images in ``images/``: plain backgrounds with meme-style captions.

Run from the repository root: ``python devtools/samples/generate_images.py``. Output is
deterministic (no randomness, Pillow's built-in font), so the files are reproducible.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent / "images"

# (file name, size, top colour, bottom colour, caption or None)
IMAGES: list[tuple[str, tuple[int, int], tuple[int, int, int], tuple[int, int, int], str | None]] = [
    ("benign_good_morning.png", (320, 240), (255, 170, 60), (250, 90, 90), "GOOD MORNING\nEVERYONE"),
    ("benign_mondays.jpg", (320, 240), (40, 90, 200), (20, 30, 80), "MONDAYS,\nAM I RIGHT?"),
    ("benign_birthday.webp", (320, 240), (120, 200, 120), (30, 120, 60), "HAPPY BIRTHDAY\nGRANDMA"),
    ("benign_plain_sky.png", (256, 192), (150, 200, 255), (230, 240, 255), None),
    ("benign_first_frame.gif", (240, 180), (90, 60, 140), (200, 160, 230), "WEEKEND\nMOOD"),
    ("harmful_go_back.png", (360, 240), (30, 30, 30), (80, 0, 0), "GO BACK TO WHERE\nYOU CAME FROM"),
    ("harmful_vermin.jpg", (360, 240), (60, 60, 60), (10, 10, 10), "YOU PEOPLE\nARE VERMIN"),
]


def gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    return image


def caption(image: Image.Image, text: str) -> None:
    """White text with a black outline, centred: the classic meme look (and easy to OCR)."""
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center", stroke_width=3)
    x = (image.width - (box[2] - box[0])) // 2
    y = (image.height - (box[3] - box[1])) // 2
    draw.multiline_text(
        (x, y), text, font=font, fill="white", align="center", stroke_width=3, stroke_fill="black"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, top, bottom, text in IMAGES:
        image = gradient(size, top, bottom)
        if text:
            caption(image, text)
        path = OUT / name
        if path.suffix == ".jpg":
            image.save(path, quality=85)
        elif path.suffix == ".gif":
            frames = [image, gradient(size, bottom, top)]  # two frames: the model sees the first
            frames[0].save(path, save_all=True, append_images=frames[1:], duration=500, loop=0)
        else:
            image.save(path)
        print(path, path.stat().st_size)


if __name__ == "__main__":
    main()
