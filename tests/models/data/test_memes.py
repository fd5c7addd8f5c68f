"""The meme generator: deterministic rendering, every style, long texts, plain photos."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.data.memes import STYLES, MemeSpec, available_fonts, random_spec, render_meme

BLUE = (40, 90, 200)


def spec(text: str = "you people are not welcome here", **changes: object) -> MemeSpec:
    values: dict[str, object] = {
        "text": text,
        "background": "color:40,90,200",
        "style": "outlined_top_bottom",
        "font": 0,
        "font_size": 40,
        "noise": 0.0,
        "jpeg_quality": 0,
        "width": 320,
        "height": 256,
    }
    values.update(changes)
    return MemeSpec(**values)  # type: ignore[arg-type]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture
def photo_file(tmp_path: Path) -> Path:
    image = Image.new("RGB", (90, 60), (200, 180, 20))
    image.paste((10, 120, 10), (0, 0, 45, 60))
    path = tmp_path / "photo.png"
    image.save(path)
    return path


@pytest.mark.parametrize("degraded", [False, True], ids=["clean", "noise+jpeg"])
def test_rendering_is_deterministic(degraded: bool) -> None:
    s = spec(noise=8.0, jpeg_quality=55) if degraded else spec()
    first, second = render_meme(s), render_meme(spec(**{k: getattr(s, k) for k in ("noise", "jpeg_quality")}))
    assert first.tobytes() == second.tobytes()
    assert render_meme(spec(text="another text")).tobytes() != render_meme(spec()).tobytes()


def test_spec_key_identifies_the_rendering() -> None:
    assert spec().key() == spec().key()
    assert spec().key() != spec(font_size=42).key()
    assert len(spec().key()) == 24


@pytest.mark.parametrize("style", STYLES)
def test_every_style_draws_the_text(style: str, photo_file: Path) -> None:
    for background in ("color:40,90,200", str(photo_file)):
        image = render_meme(spec(style=style, background=background))
        plain = render_meme(spec(text="", style=style, background=background))
        assert image.mode == "RGB"
        if style == "caption_bar":  # a white bar with black text is added above the picture
            assert image.width == 320 and image.height > 256 * 0.5
            top = pixels(image)[: image.height // 8]
            assert (top == 255).all(axis=-1).mean() > 0.5 and (top < 60).all(axis=-1).any()
        else:
            assert image.size == (320, 256)
            assert np.abs(pixels(image) - pixels(plain)).sum(axis=-1).astype(bool).mean() > 0.02
        if style.startswith("outlined"):  # white letters with a black outline
            values = pixels(image)
            assert (values == 255).all(axis=-1).any() and (values == 0).all(axis=-1).any()


def test_long_texts_shrink_to_fit() -> None:
    long_text = " ".join(["nobody wants your kind around here anymore"] * 8)  # 56 words
    image = render_meme(spec(text=long_text, style="card", font_size=40))
    values = pixels(image)
    # The card is drawn around the text block; at 40 px it would need ~20 lines and cover the whole
    # image. Shrunk to fit 80 % of the height, the first and last rows keep the background.
    assert (values[0] == BLUE).all() and (values[-1] == BLUE).all()
    assert not (values[values.shape[0] // 2] == BLUE).all()
    bar = render_meme(spec(text=long_text, style="caption_bar", font_size=40))
    assert bar.height < 2 * 256


def test_plain_photo_specs_have_no_box() -> None:
    for style in STYLES:
        image = render_meme(spec(text="", style=style))
        assert image.size == (320, 256)
        assert (pixels(image) == BLUE).all(), style  # no card, bar or outline
    assert (pixels(render_meme(spec(text="   ", style="card"))) == BLUE).all()


def test_plain_photo_is_the_photo(photo_file: Path) -> None:
    image = render_meme(spec(text="", background=str(photo_file), style="card"))
    expected = Image.open(photo_file).convert("RGB").resize((320, 256), Image.Resampling.BILINEAR)
    assert image.tobytes() == expected.tobytes()


def test_fonts_are_found() -> None:
    fonts = available_fonts()
    assert fonts and all(path == "" or Path(path).is_file() for path in fonts)
    for index in range(len(fonts) + 1):  # indexes wrap around
        render_meme(spec(font=index, style="card"))


def test_random_spec_is_reproducible(photo_file: Path) -> None:
    def draw(seed: int) -> list[MemeSpec]:
        rng = np.random.default_rng(seed)
        return [random_spec(f"text {i}", rng, [photo_file]) for i in range(40)]

    first = draw(7)
    assert first == draw(7)
    assert first != draw(8)
    assert {s.style for s in first} == set(STYLES)
    assert {s.background for s in first} & {str(photo_file)}
    assert any(s.background.startswith("color:") for s in first)
    assert [s.text for s in first] == [f"text {i}" for i in range(40)]


def test_photo_views_crop_and_flip_deterministically(photo_file: Path) -> None:
    plain = spec(text="", background=str(photo_file))
    view = dataclasses.replace(plain, crop=(0.1, 0.2, 0.7, 0.9), flip=True)
    assert plain.key() != view.key()
    first, second = render_meme(view), render_meme(view)
    assert first.size == (plain.width, plain.height)
    assert (pixels(first) == pixels(second)).all()
    assert (pixels(first) != pixels(render_meme(plain))).any()


def test_augmented_specs_only_crop_photos(photo_file: Path) -> None:
    rng = np.random.default_rng(3)
    specs = [random_spec(f"text {i}", rng, [photo_file], augment=True) for i in range(60)]
    photos = [s for s in specs if not s.background.startswith("color:")]
    colours = [s for s in specs if s.background.startswith("color:")]
    assert photos and colours
    assert all(s.crop == (0.0, 0.0, 1.0, 1.0) and not s.flip for s in colours)
    assert len({s.crop for s in photos}) == len(photos)  # every photo view differs
    for s in photos:
        left, top, right, bottom = s.crop
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
        assert right - left >= 0.44 and bottom - top >= 0.44
