"""SIGTERM ends the service within its bound even when an OCR read and an inference call hang.

Before, the stop joined the OCR lane's and the inference thread's executors on the event loop,
so a call that never returned kept the process alive until Kubernetes killed it. Real process,
real Tansu and PostgreSQL; the scorer (tests/faults/hanging_service.py) hangs in both calls.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from devtools.embedded import PostgresServer, TansuBroker
from service.app import SHUTDOWN_BOUND_S
from service.storage.migrate import upgrade

from .harness import ServiceProcess, Topics, post_message, produce, service_env

pytestmark = pytest.mark.integration


def _meme() -> str:
    """An image with lines of large text: the service's text gate sends it to the OCR lane."""
    image = Image.new("RGB", (480, 320), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for row, line in enumerate(("WHEN THE BUILD", "PASSES ON THE", "FIRST TRY")):
        draw.text((20, 30 + row * 90), line, fill=(0, 0, 0), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


async def test_sigterm_exits_within_the_bound_while_ocr_and_inference_hang(
    tansu: TansuBroker, postgres: PostgresServer, serve_checkpoint: Path, tmp_path: Path
) -> None:
    name = f"shutdown_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    await asyncio.to_thread(upgrade, url)
    topics = Topics.fresh()
    marker = tmp_path / "stuck.txt"
    env = service_env(bootstrap=tansu.bootstrap, database_url=url, checkpoint=serve_checkpoint, topics=topics)
    service = ServiceProcess(
        "hanging", env, tmp_path / "service.log", command=("-m", "tests.faults.hanging_service", str(marker))
    )
    try:
        service.start()
        await service.wait_ready()
        await produce(
            tansu.bootstrap,
            topics.input,
            [
                (b"meme", post_message("meme", image={"data": _meme()})),
                (b"text", post_message("text", text="a caption")),
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stuck = set(marker.read_text().split()) if marker.exists() else set()
            if {"ocr", "score"} <= stuck:
                break
            await asyncio.sleep(0.1)
        assert {"ocr", "score"} <= stuck, f"the calls never hung: {stuck}\n{service.log_tail()}"

        code, seconds = await service.terminate(timeout_s=SHUTDOWN_BOUND_S + 10)
        assert code == 0, f"exit code {code} after {seconds:.1f} s\n{service.log_tail()}"
        assert seconds <= SHUTDOWN_BOUND_S + 3, f"took {seconds:.1f} s\n{service.log_tail()}"
        assert "threads still running after the stop" in service.logs()
    finally:
        service.stop()
        postgres.drop_database(name)
