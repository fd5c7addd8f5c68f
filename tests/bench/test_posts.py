"""The benchmark's post mix says where its texts and photos come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import posts
from bench.posts import build_mix, load_photos, load_texts, mix_source, summary


def test_the_source_names_the_shared_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(posts, "default_data_dir", lambda: tmp_path)
    assert mix_source() == f"HateXplain texts and COCO photos from {tmp_path}"


def test_without_shared_data_the_mix_is_built_from_the_samples_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(posts, "default_data_dir", lambda: None)
    assert mix_source().startswith("demo sample texts and synthetic photos")
    texts, photos = load_texts(), load_photos()
    assert len(texts) == 5000 and len(photos) == 40
    mix = build_mix(40, seed=1, prefix="t", texts=texts, photos=photos)
    assert summary(mix)["posts"] == 40
    assert [p.post_id for p in mix] == [
        p.post_id for p in build_mix(40, seed=1, prefix="t", texts=texts, photos=photos)
    ]
