"""POSTGUARD_* speed settings reach the model as InferenceOptions."""

from __future__ import annotations

import pytest

from service.errors import ConfigError
from service.moderation.scoring import inference_options
from service.settings import Settings, load_settings


def _settings(**values: object) -> Settings:
    return load_settings(kafka_bootstrap="127.0.0.1:9092", database_url="postgresql://u@h/db", **values)


def test_defaults_turn_on_the_gate_and_the_cache() -> None:
    options = inference_options(_settings())
    assert options.ocr_gate_threshold is not None and options.ocr_gate_threshold > 0
    assert options.cache_entries > 0
    assert options.ocr_detection_max_side == 640
    assert options.ocr_simplified_graphs
    assert options.ocr_recognition_batch == 1
    assert options.text_runtime == "onnxruntime"
    assert options.text_chunk == 4
    assert options.image_chunk == 2
    assert not options.quantize_text


def test_every_optimisation_can_be_turned_off() -> None:
    options = inference_options(
        _settings(
            ocr_gate_threshold=0,
            encoder_cache_entries=0,
            ocr_overlap=False,
            quantize_text_encoder=False,
            ocr_detection_max_side=0,
            ocr_simplified_graphs=False,
            ocr_recognition_batch=0,
            text_encoder_runtime="torch",
            text_encoder_chunk=0,
            image_encoder_chunk=0,
        )
    )
    assert options.plain
    assert not options.quantize_text
    # RapidOCR as shipped: its detection size, its graphs, its recognition batch
    assert options.ocr_detection_max_side is None
    assert not options.ocr_simplified_graphs
    assert options.ocr_recognition_batch is None
    assert options.text_runtime == "torch" and options.text_chunk is None
    assert options.image_chunk is None


def test_the_int8_text_tower_needs_torch() -> None:
    with pytest.raises(
        ConfigError, match="POSTGUARD_TEXT_ENCODER_RUNTIME: .*set POSTGUARD_TEXT_ENCODER_RUNTIME=torch"
    ):
        _settings(quantize_text_encoder=True)
    options = inference_options(_settings(quantize_text_encoder=True, text_encoder_runtime="torch"))
    assert options.quantize_text and options.text_runtime == "torch"
