"""Render the key panels of deploy/grafana/postguard.json from a real run, for docs/operations.md.

Starts an embedded Tansu broker and a throwaway PostgreSQL, runs the service in-process (a tiny
random-weight checkpoint of the real architecture unless ``--model-path`` names a trained one),
starts a real Prometheus server (Debian package ``prometheus``) scraping it every second, feeds
it a few minutes of traffic (steady posts, a burst, a stretch of malformed messages), then asks
Prometheus for the dashboard's own queries over that window and plots them with matplotlib:

    .venv/bin/python deploy/grafana/render_panels.py            # writes docs/images/dashboard.png

Needs the dev extras (matplotlib) and ``prometheus`` on PATH; takes about three minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from devtools.embedded import start_postgres, start_tansu  # noqa: E402
from service.app import build_app  # noqa: E402
from service.kafka.producer import OutgoingPost, publish  # noqa: E402
from service.moderation.scoring import load_scorer  # noqa: E402
from service.settings import Settings, load_settings  # noqa: E402
from service.storage import migrate  # noqa: E402
from tests.utils.prometheus import PrometheusTools, run_prometheus  # noqa: E402

DASHBOARD = ROOT / "deploy" / "grafana" / "postguard.json"
OUTPUT = ROOT / "docs" / "images" / "dashboard.png"
# With a 1 s scrape, Grafana's $__rate_interval would be a few seconds; 15 s reads better.
RATE_INTERVAL = "15s"

# The panels to draw, by title, in reading order (3 x 3).
PANELS = [
    "Throughput",
    "Decisions by action",
    "Dead letters by reason",
    "End-to-end latency",
    "Stage latency (p95)",
    "Batch size",
    "Consumer lag by partition",
    "Review queue depth",
    "Database and model",
]


@dataclass(frozen=True)
class Phase:
    seconds: float
    rate: float  # posts per second
    malformed: float = 0.0  # share of malformed messages
    burst: int = 0  # posts published at once when the phase starts


SCENARIO = [
    Phase(40, 15),
    Phase(40, 15, burst=1500),
    Phase(30, 15, malformed=0.25),
    Phase(40, 30),
]


def _image(rng: random.Random) -> str:
    buffer = io.BytesIO()
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    Image.new("RGB", (96, 64), colour).save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


def _post(rng: random.Random, malformed: float) -> OutgoingPost:
    if rng.random() < malformed:
        return OutgoingPost(key=None, value=rng.choice([b'{"post_id": "cut', b'{"post_id": "x", "text": 1}']))
    post_id = uuid.uuid4().hex
    document: dict[str, Any] = {
        "post_id": post_id,
        "author_id": f"u-{rng.randrange(1000)}",
        "created_at": datetime.now().astimezone().isoformat(),
        "text": rng.choice(["look at this", "what a day", "you people are the worst", "nice picture"]),
    }
    if rng.random() < 0.3:
        document["image"] = {"data": _image(rng)}
    return OutgoingPost(key=post_id.encode(), value=json.dumps(document).encode())


async def _traffic(settings: Settings, rng: random.Random) -> None:
    for phase in SCENARIO:
        if phase.burst:
            await publish(settings, [_post(rng, phase.malformed) for _ in range(phase.burst)])
        started = time.monotonic()
        while time.monotonic() - started < phase.seconds:
            await publish(settings, [_post(rng, phase.malformed) for _ in range(int(phase.rate))])
            await asyncio.sleep(1.0)


def _queries() -> dict[str, list[tuple[str, str]]]:
    """(expr, legend) of each panel to draw, taken from the dashboard itself."""
    panels = {p["title"]: p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"}
    result = {}
    for title in PANELS:
        result[title] = [
            (t["expr"].replace("$__rate_interval", RATE_INTERVAL).replace("$job", ".*"), t["legendFormat"])
            for t in panels[title]["targets"]
        ]
    return result


def _query_range(url: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{url}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": "2s"},
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def _legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text or "value"


def _plot(series: dict[str, list[tuple[str, list[tuple[float, float]]]]], start: float, info: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8})
    fig, axes = plt.subplots(3, 3, figsize=(15, 9), facecolor="#111217")
    for ax, title in zip(axes.flat, PANELS, strict=True):
        ax.set_facecolor("#181b1f")
        ax.set_title(title, color="#d8d9da", loc="left", fontsize=9)
        ax.tick_params(colors="#8e8e8e")
        for spine in ax.spines.values():
            spine.set_color("#2c3235")
        ax.grid(color="#2c3235", linewidth=0.5)
        for name, points in series[title]:
            if points:
                xs = [(t - start) / 60 for t, _ in points]
                ax.plot(xs, [v for _, v in points], linewidth=1.2, label=name)
        if series[title]:
            ax.legend(
                fontsize=7, facecolor="#181b1f", edgecolor="#2c3235", labelcolor="#d8d9da", loc="upper left"
            )
        ax.set_xlabel("minutes", color="#8e8e8e")
    fig.suptitle(f"postguard dashboard: {info}", color="#d8d9da", x=0.01, ha="left", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUTPUT, dpi=100, facecolor=fig.get_facecolor())
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


async def main(model_path: Path | None) -> None:
    prometheus = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if prometheus is None or promtool is None:
        sys.exit("needs prometheus and promtool on PATH (apt-get install -y prometheus)")
    tools = PrometheusTools(promtool=promtool, prometheus=prometheus)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as directory, start_tansu() as broker, start_postgres() as postgres:
        if model_path is None:
            from devtools.testing import build_tiny_checkpoint

            model_path = build_tiny_checkpoint(Path(directory) / "tiny")
            description = "tiny random-weight checkpoint"
        else:
            description = f"checkpoint {model_path.name}"
        url = postgres.create_database("render")
        await asyncio.to_thread(migrate.upgrade, url)
        settings = load_settings(
            kafka_bootstrap=broker.bootstrap,
            database_url=url,
            model_path=model_path,
            metrics_host="127.0.0.1",
            metrics_port=0,
            metrics_refresh_interval_s=1.0,
            session_timeout_ms=2000,
            heartbeat_interval_ms=500,
        )
        scorer = await asyncio.to_thread(load_scorer, settings)
        app = build_app(settings, scorer=scorer, registry=CollectorRegistry())
        async with app:
            with run_prometheus(tools, [f"127.0.0.1:{app.metrics_port}"]) as server:
                start = time.time()
                await _traffic(settings, rng)
                await asyncio.sleep(20)  # the tail: backlog drained, last scrapes in
                end = time.time()
                series = {
                    title: [
                        (_legend(legend, item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
                        for expr, legend in queries
                        for item in _query_range(server.url, expr, start, end)
                    ]
                    for title, queries in _queries().items()
                }
    info = f"a real run (embedded Tansu + PostgreSQL, {description}) scraped by Prometheus every second"
    _plot(series, start, info)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-path", type=Path, help="a trained checkpoint (default: a tiny random one)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.model_path))
