"""postguard's benchmark, all phases in ONE run so the ratios are fair on a noisy machine.

    .venv/bin/python -m bench.run [--posts 5000] [--quick] [--checkpoint DIR]     (or: make bench)

Starts a Tansu broker and a PostgreSQL on loopback (devtools.embedded), then measures:

1. bare model: ``Moderator.score`` in-process at batch sizes 1, 8, 32, 64 for text-only and
   text+image posts, and on the benchmark mix itself at the service's batch size (no Kafka, no
   database, images decoded beforehand); the model has the service's speed options;
2. service end to end: ``postguard serve`` as a subprocess; the mix (70 % text-only, 30 % with an
   inline image) is published as fast as the producer goes; throughput from the first publish to
   the last decision committed, latency = ``decisions.recorded_at`` - Kafka message timestamp;
   then text-only posts alone (what the API's text throughput is compared with);
3. naive consumer (bench/naive_consumer.py), a prefix of the same posts (``--naive-posts``);
4. latency under load: the service offered 50 % and 80 % of its measured throughput (open loop);
5. peak RSS (VmHWM) of the service process;
6. the synchronous API (``postguard api``, bench/api_load.py): closed-loop clients at 1, 8 and 32,
   text-only and with images, every request a post not sent before; then text at 8 clients in a
   fresh process with all cores' threads (the deployment's setting).

Writes bench/results/latest.json and bench/results/latest.png and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.api_load import PostFeed, closed_loop, measure_api
from bench.posts import BenchPost, MixSpec, build_mix, load_photos, load_texts, mix_source, summary
from devtools.embedded import free_port, start_postgres, start_tansu
from service.settings import Settings, load_settings
from service.storage import migrate

RESULTS = Path(__file__).resolve().parent / "results"
BATCH_SIZES = (1, 8, 32, 64)
#: Settings the benchmark pins for every phase (``--set`` overrides them). One torch and one OCR
#: thread: on a shared 2-core machine, all-core thread pools fight over the cores (measured 3x slower
#: at batch 32 and 20x slower at batch 1 with a load average of 6; docs/performance.md).
BENCH_DEFAULTS = {"torch_threads": "1", "ocr_threads": "1"}
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it ('' where /proc/cpuinfo is missing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


#: CPU features that move the model's speed most (vector width, int8/bf16 dot products): two hosts
#: that both call themselves "AMD EPYC" ran the OCR 2.5 x apart, with and without AVX-512.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_flags() -> list[str]:
    """Which of :data:`SPEED_FLAGS` the CPU reports ([] where /proc/cpuinfo is missing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in SPEED_FLAGS if flag in present]
    except OSError:
        pass
    return []


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 4)}


# --- 1. bare model -------------------------------------------------------------------------------


def run_bare(
    settings: Settings, mix: list[BenchPost], texts: list[str], photos: list[bytes], *, quick: bool
) -> dict[str, Any]:
    import torch

    from models.image_decoding import decode_image
    from models.inference import Moderator
    from models.types import PostContent
    from service.moderation.scoring import category_bundle_path, inference_options

    moderator = Moderator.load(
        settings.model_path,
        torch_threads=settings.torch_threads,
        options=inference_options(settings),
        categories=category_bundle_path(settings),
        categories_required=settings.categories_path is not None,
        nsfw=settings.nsfw_enabled,
    )
    log(
        f"bare model: {moderator.version}, options {moderator.options}, torch threads {torch.get_num_threads()}"
    )

    def content(post: BenchPost) -> PostContent:
        return PostContent(text=post.text, image=decode_image(post.image) if post.image else None)

    def throughput(posts: list[PostContent], batch: int) -> float:
        moderator.clear_caches()
        moderator.score(posts[: min(2, len(posts))])  # warm the code paths, then start cold again
        moderator.clear_caches()
        started = time.perf_counter()
        for start in range(0, len(posts), batch):
            moderator.score(posts[start : start + batch])
        return len(posts) / (time.perf_counter() - started)

    n_text, n_image = (64, 32) if quick else (512, 64)
    text_posts = [PostContent(text=t) for t in texts[-n_text:]]
    image_mix = build_mix(
        n_image,
        seed=7,
        prefix="sweep",
        texts=texts,
        photos=photos,
        spec=MixSpec(image_fraction=1.0, repost_fraction=0.0),
    )
    image_posts = [content(p) for p in image_mix]
    sweep: dict[str, dict[str, float]] = {"text": {}, "text+image": {}}
    for batch in BATCH_SIZES:
        sweep["text"][str(batch)] = round(throughput(text_posts, batch), 2)
        sweep["text+image"][str(batch)] = round(throughput(image_posts, batch), 2)
        log(
            f"bare batch {batch}: text {sweep['text'][str(batch)]}/s, text+image {sweep['text+image'][str(batch)]}/s"
        )
    mix_posts = [content(p) for p in mix]
    mix_rate = throughput(mix_posts, settings.batch_max_size)
    log(f"bare model on the mix at batch {settings.batch_max_size}: {mix_rate:.1f} posts/s")
    return {
        "sweep_posts_per_s": sweep,
        "sweep_posts": {"text": n_text, "text+image": n_image},
        "mix_posts_per_s": round(mix_rate, 2),
        "mix_batch_size": settings.batch_max_size,
        "options": repr(moderator.options),
        "categories": moderator.categories.names if moderator.categories is not None else [],
        **_category_costs(
            moderator, [p.text for p in text_posts if p.text], [p.image for p in image_posts if p.image]
        ),
    }


def _category_costs(moderator: Any, texts: list[str], images: list[Any]) -> dict[str, float | None]:
    """What the example-defined categories cost by themselves (None when not loaded): ms per text
    for their heads (their embedding comes out of the text tower's pass that scoring makes anyway;
    its share of that pass shows only in the on/off comparison of whole runs), and ms per image
    scored by open_nsfw."""
    costs: dict[str, float | None] = {"category_heads_ms_per_text": None, "nsfw_ms_per_image": None}
    if moderator.categories is not None and moderator.category_embedder is not None and texts:
        features = moderator.category_embedder.embed(texts)
        started = time.perf_counter()
        for start in range(0, len(texts), 32):
            moderator.categories.score(features[start : start + 32])
        costs["category_heads_ms_per_text"] = round(1000 * (time.perf_counter() - started) / len(texts), 3)
    if moderator.nsfw is not None and images:
        started = time.perf_counter()
        for start in range(0, len(images), 8):
            moderator.nsfw.score(images[start : start + 8])
        costs["nsfw_ms_per_image"] = round(1000 * (time.perf_counter() - started) / len(images), 2)
    log(f"example-defined categories: {costs}")
    return costs


# --- publishing and watching ---------------------------------------------------------------------


async def producer(bootstrap: str) -> AIOKafkaProducer:
    p = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=MAX_MESSAGE_BYTES, linger_ms=5, acks="all"
    )
    await p.start()
    return p


async def publish_burst(bootstrap: str, topic: str, posts: Sequence[BenchPost]) -> float:
    """Publish as fast as possible; return the wall time of the first send."""
    p = await producer(bootstrap)
    try:
        first = time.time()
        pending = []
        for post in posts:
            pending.append(await p.send(topic, post.message(), key=post.post_id.encode()))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return first
    finally:
        await p.stop()


async def publish_paced(bootstrap: str, topic: str, posts: Sequence[BenchPost], rate: float) -> float:
    """Open loop: post i is sent at first + i / rate, whatever the service does."""
    p = await producer(bootstrap)
    try:
        pending = []
        first = time.time()
        for index, post in enumerate(posts):
            delay = first + index / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(await p.send(topic, post.message(), key=post.post_id.encode()))
        await asyncio.gather(*pending)
        return first
    finally:
        await p.stop()


async def wait_decided(url: str, prefix: str, count: int, timeout_s: float) -> bool:
    connection = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout_s
        # Progress every 10 s (the poll runs every 0.25 s).
        next_report = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = await connection.fetchval(
                "SELECT count(*) FROM decisions WHERE post_id LIKE $1", prefix + "-%"
            )
            if done >= count:
                return True
            if time.monotonic() >= next_report:
                log(f"  {prefix}: {done}/{count} decided")
                next_report += 10
            await asyncio.sleep(0.25)
        return False
    finally:
        await connection.close()


async def latencies(url: str, prefix: str) -> tuple[dict[str, float], float, int]:
    """Per post id (recorded_at - Kafka timestamp) in seconds, the last recorded_at, and the count."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT d.post_id, EXTRACT(EPOCH FROM d.recorded_at)::float8 AS done,"
            " EXTRACT(EPOCH FROM p.source_timestamp)::float8 AS sent"
            " FROM decisions d JOIN posts p USING (post_id) WHERE d.post_id LIKE $1",
            prefix + "-%",
        )
    finally:
        await connection.close()
    values = {r["post_id"]: r["done"] - r["sent"] for r in rows if r["sent"] is not None}
    return values, max((r["done"] for r in rows), default=float("nan")), len(rows)


async def measure_burst(
    bootstrap: str, url: str, topic: str, posts: Sequence[BenchPost], prefix: str, timeout_s: float
) -> dict[str, Any]:
    load_before = load_average()
    first = await publish_burst(bootstrap, topic, posts)
    complete = await wait_decided(url, prefix, len(posts), timeout_s)
    values, last, decided = await latencies(url, prefix)
    elapsed = last - first
    return {
        "posts": len(posts),
        "decided": decided,
        "complete": complete,
        "elapsed_s": round(elapsed, 2),
        "posts_per_s": round(decided / elapsed, 2) if elapsed > 0 else float("nan"),
        "latency_s": percentiles(list(values.values())),
        "latency_s_by_kind": by_kind(values, posts),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def by_kind(values: dict[str, float], posts: Sequence[BenchPost]) -> dict[str, dict[str, float]]:
    """Latency percentiles per kind of post (text, photo, meme): which kind sets the tail."""
    kinds = {p.post_id: p.kind for p in posts}
    grouped: dict[str, list[float]] = {}
    for post_id, value in values.items():
        grouped.setdefault(kinds.get(post_id, "?"), []).append(value)
    return {kind: {**percentiles(v), "posts": len(v)} for kind, v in sorted(grouped.items())}


#: The service's stage histograms whose per-phase means the load phases report (where time goes).
STAGE_HISTOGRAMS = (
    "postguard_ocr_lane_wait_seconds",
    "postguard_ocr_seconds",
    "postguard_inference_seconds",
    "postguard_db_write_seconds",
    "postguard_batch_seconds",
)
#: Counters of seconds the load phases report as a total (time the idle inference thread helped OCR).
STAGE_COUNTERS = ("postguard_inference_thread_lent_seconds",)


def scrape_histograms(port: int) -> dict[str, tuple[float, float]]:
    """(count, sum) of each stage histogram on the service's /metrics; (0, total) of each counter."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in STAGE_COUNTERS:
            found[family.name] = (
                0.0,
                sum(sample.value for sample in family.samples if sample.name.endswith("_total")),
            )
        if family.name not in STAGE_HISTOGRAMS:
            continue
        values = {sample.name.removeprefix(family.name): sample.value for sample in family.samples}
        found[family.name] = (values.get("_count", 0.0), values.get("_sum", 0.0))
    return found


def stage_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, Any]:
    """Per stage: how many observations the phase added and their mean, in seconds."""
    out: dict[str, Any] = {}
    for name in STAGE_HISTOGRAMS:
        count_before, sum_before = before.get(name, (0.0, 0.0))
        count_after, sum_after = after.get(name, (0.0, 0.0))
        count, total = count_after - count_before, sum_after - sum_before
        key = name.removeprefix("postguard_").removesuffix("_seconds")
        out[key] = {"count": int(count), "mean_s": round(total / count, 4) if count else None}
    for name in STAGE_COUNTERS:
        total = after.get(name, (0.0, 0.0))[1] - before.get(name, (0.0, 0.0))[1]
        out[name.removeprefix("postguard_").removesuffix("_seconds")] = {"total_s": round(total, 3)}
    return out


async def measure_paced(
    bootstrap: str,
    url: str,
    topic: str,
    posts: Sequence[BenchPost],
    prefix: str,
    rate: float,
    metrics_port: int | None = None,
) -> dict[str, Any]:
    load_before = load_average()
    stages_before = await asyncio.to_thread(scrape_histograms, metrics_port) if metrics_port else {}
    first = await publish_paced(bootstrap, topic, posts, rate)
    complete = await wait_decided(url, prefix, len(posts), 120 + 2 * len(posts))
    values, last, decided = await latencies(url, prefix)
    stages_after = await asyncio.to_thread(scrape_histograms, metrics_port) if metrics_port else {}
    return {
        "offered_posts_per_s": round(rate, 2),
        "posts": len(posts),
        "decided": decided,
        "complete": complete,
        "achieved_posts_per_s": round(decided / (last - first), 2) if last > first else float("nan"),
        "latency_s": percentiles(list(values.values())),
        "latency_s_by_kind": by_kind(values, posts),
        # where the time goes in this phase: the service's own stage histograms (means)
        "stages": stage_means(stages_before, stages_after) if metrics_port else None,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def warmup_posts(texts: list[str], photos: list[bytes], prefix: str) -> list[BenchPost]:
    return build_mix(
        6,
        seed=99,
        prefix=prefix,
        texts=texts,
        photos=photos,
        spec=MixSpec(image_fraction=0.5, meme_fraction=0.5),
    )


# --- subprocesses --------------------------------------------------------------------------------


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for field, value in settings.model_dump().items():
        if value is None or field.startswith("kafka_sasl") or field == "image_fetch_allowlist":
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"POSTGUARD_{field.upper()}"] = str(value)
    env.update(extra)
    return env


def start_process(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    handle = log_path.open("wb")
    return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the service did not become ready")


# --- the run -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from models.inference import DEFAULT_CHECKPOINT

    checkpoint = Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT
    if not (checkpoint / "manifest.json").is_file():
        raise SystemExit(f"no checkpoint at {checkpoint} (train one, or pass --checkpoint)")
    posts_count = args.posts or (300 if args.quick else 5000)
    naive_count = min(posts_count, args.naive_posts or (100 if args.quick else 500))
    load_seconds = args.load_seconds or (15.0 if args.quick else 30.0)

    source = mix_source()
    log(f"building the mix of {posts_count} posts: {source}")
    texts, photos = load_texts(), load_photos()
    mix = build_mix(posts_count, seed=1, prefix="mix", texts=texts, photos=photos)
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Absolute figures move a lot between hosts (ratios much less): say which CPU ran them.
            "cpu_model": cpu_model(),
            "cpu_flags": cpu_flags(),
            "load_average_at_start": load_average(),
        },
        "checkpoint": str(checkpoint),
        "mix": {**summary(mix), "source": source},
        "quick": bool(args.quick),
    }
    scratch = Path(tempfile.mkdtemp(prefix="postguard-bench-"))
    tansu = start_tansu(log_dir=scratch)
    postgres = start_postgres(scratch / "postgres")
    try:
        base = load_settings(
            kafka_bootstrap=tansu.bootstrap,
            database_url=postgres.url,
            model_path=checkpoint,
            metrics_host="127.0.0.1",
            session_timeout_ms=4000,
            heartbeat_interval_ms=1000,
            metrics_refresh_interval_s=60,
            **{**BENCH_DEFAULTS, **dict(item.split("=", 1) for item in args.set)},
        )
        result["service_settings"] = {
            k: v
            for k, v in base.model_dump().items()
            if k.startswith(
                (
                    "batch_",
                    "ocr_",
                    "encoder_",
                    "quantize_",
                    "torch_",
                    "max_message",
                    "score_",
                    "kafka_fetch",
                    "malloc_",
                    "trim_",
                    "text_encoder_",
                    "image_encoder_",
                )
            )
        }

        log("phase 1: bare model")
        result["bare"] = run_bare(base, mix, texts, photos, quick=args.quick)
        result["machine"]["load_average_after_bare"] = load_average()

        log("phase 2: service end to end")
        svc_url = postgres.create_database("bench_service")
        await asyncio.to_thread(migrate.upgrade, svc_url)
        port = free_port()
        svc_settings = base.model_copy(
            update={"database_url": svc_url, "metrics_port": port, "input_topic": "bench.service"}
        )
        service = start_process(
            [str(Path(sys.executable).with_name("postguard")), "serve"],
            environment(svc_settings, POSTGUARD_LOG_LEVEL="WARNING"),
            RESULTS / "service.log",
        )
        try:
            await asyncio.to_thread(wait_ready, port, service)
            warm = warmup_posts(texts, photos, "warm")
            await publish_burst(tansu.bootstrap, "bench.service", warm)
            if not await wait_decided(svc_url, "warm", len(warm), 300):
                raise RuntimeError("the service did not decide the warm-up posts")
            result["service"] = await measure_burst(
                tansu.bootstrap, svc_url, "bench.service", mix, "mix", 300 + 3.0 * len(mix)
            )
            rate = result["service"]["posts_per_s"]
            log(f"service: {rate} posts/s, latency {result['service']['latency_s']}")
            # Text posts only: what the API's text throughput is compared with.
            # The last texts of the pool: the API phase sends the first ones.
            text_only = text_posts(texts[-api_text_count(args) :], api_text_count(args), "textonly")
            result["service_text_only"] = await measure_burst(
                tansu.bootstrap, svc_url, "bench.service", text_only, "textonly", 300 + 1.0 * len(text_only)
            )
            log(f"service, text posts only: {result['service_text_only']['posts_per_s']} posts/s")

            log("phase 4: latency under load")
            result["load"] = {}
            for fraction, seed in ((0.5, 50), (0.8, 80)):
                offered = fraction * rate
                count = max(20, int(offered * load_seconds))
                paced = build_mix(count, seed=seed, prefix=f"load{seed}", texts=texts, photos=photos)
                result["load"][f"{int(fraction * 100)}pct"] = await measure_paced(
                    tansu.bootstrap, svc_url, "bench.service", paced, f"load{seed}", offered, port
                )
                phase = result["load"][f"{int(fraction * 100)}pct"]
                log(f"  {int(fraction * 100)} %: {phase['latency_s']}; by kind {phase['latency_s_by_kind']}")
                log(f"  {int(fraction * 100)} %: stage means {phase['stages']}")
            result["service"]["peak_rss_mb"] = peak_rss_mb(service.pid)
        finally:
            stop_process(service)

        log("phase 5: the synchronous API (postguard api)")
        result["api"] = await run_api_phase(base, postgres, texts, photos, args)

        log(f"phase 3: naive consumer on the first {naive_count} posts of the mix")
        naive_url = postgres.create_database("bench_naive")
        await asyncio.to_thread(migrate.upgrade, naive_url)
        naive_settings = base.model_copy(
            update={"database_url": naive_url, "input_topic": "bench.naive", "group_id": "naive"}
        )
        naive = start_process(
            [sys.executable, "-m", "bench.naive_consumer"], environment(naive_settings), RESULTS / "naive.log"
        )
        try:
            warm = warmup_posts(texts, photos, "warm")
            await publish_burst(tansu.bootstrap, "bench.naive", warm)
            if not await wait_decided(naive_url, "warm", len(warm), 300):
                raise RuntimeError("the naive consumer did not decide the warm-up posts")
            result["naive"] = await measure_burst(
                tansu.bootstrap, naive_url, "bench.naive", mix[:naive_count], "mix", 300 + 5.0 * naive_count
            )
            log(f"naive: {result['naive']['posts_per_s']} posts/s")
        finally:
            stop_process(naive)
    finally:
        postgres.stop()
        tansu.stop()
    result["machine"]["load_average_at_end"] = load_average()
    return result


def api_text_count(args: argparse.Namespace) -> int:
    return 300 if args.quick else 1500


def text_posts(texts: Sequence[str], count: int, prefix: str) -> list[BenchPost]:
    """``count`` text-only posts (the mix's texts, in order)."""
    return [BenchPost(f"{prefix}-{n}", "text", texts[n % len(texts)], None, False) for n in range(count)]


def start_api(base: Settings, url: str, name: str, **update: Any) -> tuple[subprocess.Popen[bytes], int]:
    """``postguard api`` on the database ``url``, anonymous on loopback (no keys to manage)."""
    port = free_port()
    settings = base.model_copy(
        update={
            "database_url": url,
            "api_port": port,
            "api_host": "127.0.0.1",
            "api_allow_anonymous": True,
            "api_rate_limit_per_minute": 10**9,
            **update,
        }
    )
    process = start_process(
        [str(Path(sys.executable).with_name("postguard")), "api"],
        environment(settings, POSTGUARD_LOG_LEVEL="WARNING"),
        RESULTS / f"{name}.log",
    )
    return process, port


async def run_api_phase(
    base: Settings,
    postgres: Any,
    texts: list[str],
    photos: list[bytes],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """``postguard api`` on its own database, loaded at 1, 8 and 32 concurrent clients with the
    benchmark's thread pin (as the consumer phases); then text at 8 clients again in a fresh process
    with the deployment's threads (all cores: what the Compose file and manifests set)."""
    url = postgres.create_database("bench_api")
    await asyncio.to_thread(migrate.upgrade, url)
    seconds = 5.0 if args.quick else 12.0
    # Enough distinct posts that no phase repeats one (its embeddings would come from the cache).
    mix = build_mix(400 if args.quick else 4000, seed=7, prefix="api", texts=texts, photos=photos)
    image_posts = [p for p in mix if p.image is not None]
    api_texts = text_posts(texts, 1500 if args.quick else 8000, "api-text")
    api, port = start_api(base, url, "api")
    try:
        await asyncio.to_thread(wait_ready, port, api)
        result = await measure_api(
            f"http://127.0.0.1:{port}", api_texts, image_posts, seconds=seconds, log=log
        )
        result["peak_rss_mb"] = peak_rss_mb(api.pid)
    finally:
        stop_process(api)
    cores = os.cpu_count() or 1
    api, port = start_api(base, url, "api_all_cores", torch_threads=cores)
    try:
        await asyncio.to_thread(wait_ready, port, api)
        # Texts from the end of the pool: none was sent to the first process's phases.
        fresh = text_posts(texts[-3000:], 3000, "api-text-cores")
        await closed_loop(
            f"http://127.0.0.1:{port}", PostFeed(fresh[-50:]), clients=4, seconds=min(5.0, seconds)
        )
        phase = await closed_loop(
            f"http://127.0.0.1:{port}", PostFeed(fresh[:-50]), clients=8, seconds=seconds
        )
        phase["torch_threads"] = cores
        result["text_8_clients_all_cores"] = phase
        log(
            f"  API text, 8 clients, {cores} torch threads: {phase['requests_per_s']} requests/s, "
            f"p50/p95 {phase['latency_s']['p50']}/{phase['latency_s']['p95']} s"
        )
    finally:
        stop_process(api)
    return result


def headline(result: dict[str, Any]) -> dict[str, Any]:
    bare = result["bare"]["mix_posts_per_s"]
    service = result["service"]["posts_per_s"]
    naive = result["naive"]["posts_per_s"]
    return {
        "bare_model_posts_per_s": bare,
        "service_posts_per_s": service,
        "naive_posts_per_s": naive,
        "service_over_bare": round(service / bare, 3),
        "service_over_naive": round(service / naive, 2),
        "p50_latency_s": result["service"]["latency_s"]["p50"],
        "p95_latency_s": result["service"]["latency_s"]["p95"],
        "p99_latency_s": result["service"]["latency_s"]["p99"],
        "p95_latency_s_at_50pct": result["load"]["50pct"]["latency_s"]["p95"],
        "p99_latency_s_at_50pct": result["load"]["50pct"]["latency_s"]["p99"],
        "p95_latency_s_at_80pct": result["load"]["80pct"]["latency_s"]["p95"],
        "p99_latency_s_at_80pct": result["load"]["80pct"]["latency_s"]["p99"],
        "peak_rss_mb": result["service"]["peak_rss_mb"],
        "service_text_posts_per_s": result["service_text_only"]["posts_per_s"],
        "api_text_requests_per_s_at_32": result["api"]["text"]["32"]["requests_per_s"],
        "api_text_p95_s_at_8": result["api"]["text_8_clients_all_cores"]["latency_s"]["p95"],
        "api_text_p95_s_at_8_one_thread": result["api"]["text"]["8"]["latency_s"]["p95"],
        "api_text_over_service_text": round(
            result["api"]["text"]["32"]["requests_per_s"] / result["service_text_only"]["posts_per_s"], 3
        ),
        "api_peak_rss_mb": result["api"]["peak_rss_mb"],
    }


TARGETS = {
    "service_over_bare": (">=", 0.8),
    "service_over_naive": (">=", 5.0),
    "p95_latency_s_at_50pct": ("<=", 0.5),
    "peak_rss_mb": ("<=", 1536.0),
    "api_text_p95_s_at_8": ("<=", 0.15),
    "api_text_over_service_text": (">=", 0.8),
}


def table(result: dict[str, Any]) -> str:
    h = result["headline"]
    sweep = result["bare"]["sweep_posts_per_s"]
    lines = ["postguard benchmark" + (" (quick)" if result["quick"] else ""), "=" * 64]
    lines.append(f"mix: {result['mix']}")
    lines.append(f"{'bare model posts/s':<34}" + "".join(f"{'batch ' + b:>10}" for b in sweep["text"]))
    for kind in ("text", "text+image"):
        lines.append(f"  {kind:<32}" + "".join(f"{v:>10.1f}" for v in sweep[kind].values()))
    lines.append("-" * 64)
    rows = [
        ("bare model, the mix", f"{h['bare_model_posts_per_s']:.1f} posts/s"),
        ("service end to end", f"{h['service_posts_per_s']:.1f} posts/s"),
        ("naive consumer", f"{h['naive_posts_per_s']:.1f} posts/s"),
        ("service / bare", f"{h['service_over_bare']:.2f} x"),
        ("service / naive", f"{h['service_over_naive']:.1f} x"),
        ("latency p50/p95/p99 (burst)", f"{h['p50_latency_s']}/{h['p95_latency_s']}/{h['p99_latency_s']} s"),
        ("latency p95/p99 at 50 % load", f"{h['p95_latency_s_at_50pct']}/{h['p99_latency_s_at_50pct']} s"),
        ("latency p95/p99 at 80 % load", f"{h['p95_latency_s_at_80pct']}/{h['p99_latency_s_at_80pct']} s"),
        ("peak RSS of the service", f"{h['peak_rss_mb']} MB"),
        ("service, text posts only", f"{h['service_text_posts_per_s']:.1f} posts/s"),
    ]
    lines += [f"{name:<34}{value:>30}" for name, value in rows]
    lines.append("-" * 64)
    lines.append(f"{'API (postguard api) clients':<34}" + "".join(f"{c:>10}" for c in result["api"]["text"]))
    for kind in ("text", "image"):
        phases = result["api"][kind].values()
        lines.append(
            f"  {kind + ' requests/s':<32}" + "".join(f"{p['requests_per_s']:>10.1f}" for p in phases)
        )
        lines.append(
            f"  {kind + ' p50/p95 ms':<32}"
            + "".join(
                f"{round(p['latency_s']['p50'] * 1000):>5}/{round(p['latency_s']['p95'] * 1000):<4}"
                for p in phases
            )
        )
    lines.append(f"{'API / service, text (32 clients)':<34}{h['api_text_over_service_text']:>29.2f}x")
    cores = result["api"]["text_8_clients_all_cores"]
    lines.append(
        f"{'API text, 8 clients, all cores':<34}"
        f"{cores['requests_per_s']:>12.1f}/s, p50/p95 {round(cores['latency_s']['p50'] * 1000)}/"
        f"{round(cores['latency_s']['p95'] * 1000)} ms"
    )
    lines.append("-" * 64)
    for key, (op, target) in TARGETS.items():
        value = h[key]
        met = value >= target if op == ">=" else value <= target
        lines.append(f"target {key} {op} {target}: {'met' if met else 'MISSED'} ({value})")
    m = result["machine"]
    lines.append(
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}; {' '.join(m.get('cpu_flags', [])) or 'no flags read'});"
        f" load average (1/5/15 min) at start {m['load_average_at_start']},"
        f" at end {m['load_average_at_end']}"
    )
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = result["headline"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    sweep = result["bare"]["sweep_posts_per_s"]
    sizes = list(sweep["text"])
    x = range(len(sizes))
    axes[0].bar([i - 0.2 for i in x], list(sweep["text"].values()), width=0.4, label="text-only")
    axes[0].bar([i + 0.2 for i in x], list(sweep["text+image"].values()), width=0.4, label="text+image")
    axes[0].set_xticks(list(x), [f"batch {s}" for s in sizes])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("posts/s (log)")
    axes[0].set_title("bare model, in-process")
    # Headroom above the tallest bar (log scale): the legend sits there instead of over a bar.
    axes[0].set_ylim(top=max(max(sweep["text"].values()), max(sweep["text+image"].values())) * 6)
    axes[0].legend(loc="upper left", ncol=2)
    names = ["bare model\n(mix)", "service\nend to end", "naive\nconsumer"]
    values = [h["bare_model_posts_per_s"], h["service_posts_per_s"], h["naive_posts_per_s"]]
    axes[1].bar(names, values, color=["#888888", "#2a7ab9", "#c0504d"])
    for i, v in enumerate(values):
        axes[1].text(i, v, f"{v:.1f}", ha="center", va="bottom")
    axes[1].set_ylabel("posts/s")
    axes[1].set_title("the 70/30 mix")
    groups = {
        "burst": result["service"]["latency_s"],
        "50 % load": result["load"]["50pct"]["latency_s"],
        "80 % load": result["load"]["80pct"]["latency_s"],
    }
    for i, q in enumerate(("p50", "p95", "p99")):
        axes[2].bar(
            [j + (i - 1) * 0.25 for j in range(3)], [g[q] for g in groups.values()], width=0.25, label=q
        )
    axes[2].axhline(0.5, color="k", linestyle="--", linewidth=0.8, label="p95 target at 50 %")
    axes[2].set_xticks(range(3), list(groups))
    axes[2].set_yscale("log")
    axes[2].set_ylabel("seconds (log)")
    axes[2].set_title("latency: decision committed - message timestamp")
    axes[2].set_ylim(top=max(g["p99"] for g in groups.values()) * 30)
    axes[2].legend(loc="upper right", ncol=2, fontsize="small")
    fig.suptitle(
        f"postguard benchmark ({result['machine']['cpus']} CPUs, load avg {result['machine']['load_average_at_start']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, help="posts in the end-to-end mix (default 5000; --quick 300)")
    parser.add_argument(
        "--naive-posts", type=int, help="prefix of the mix the naive consumer gets (default 500; --quick 100)"
    )
    parser.add_argument(
        "--load-seconds", type=float, help="length of each paced load phase (default 30; --quick 15)"
    )
    parser.add_argument("--quick", action="store_true", help="a few hundred posts, for development")
    parser.add_argument("--checkpoint", help="checkpoint directory (default: the bundled one)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a service setting for this run (bare model and service), e.g. --set batch_max_size=64",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    # SIGTERM unwinds like Ctrl-C, so the broker and the database started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    result = asyncio.run(run(args))
    result["headline"] = headline(result)
    result["seconds"] = round(time.time() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {**result["headline"], **{k: v for k, v in result.items() if k != "headline"}}
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    plot(result, args.output.with_suffix(".png"))
    print(table(result))
    print(f"\nwritten: {args.output}, {args.output.with_suffix('.png')} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
