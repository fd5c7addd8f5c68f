"""postguard's configuration. Nothing else reads the environment.

Every field is an environment variable named ``POSTGUARD_<FIELD>`` (upper case). Only the two
connection settings have no default, and a command asks only for the ones it uses:
:class:`Settings` (``postguard serve``: both), :class:`DatabaseSettings` (``migrate``, the review
commands), :class:`KafkaSettings` (``produce``), :class:`CommonSettings` (``categories``). A
function that takes :class:`Settings` cannot be handed a command's partial settings (mypy checks),
so a command that never loaded the broker's address never reaches code that connects to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar, overload
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.errors import ConfigError

ENV_PREFIX = "POSTGUARD_"


class CommonSettings(BaseSettings):
    """Every setting but the two connections, read from ``POSTGUARD_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False)

    database_runtime_role: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="For `postguard migrate`: the role the service and review page connect as; the "
        "migration (run as the tables' owner) grants it SELECT/INSERT/UPDATE, and only SELECT/INSERT "
        "on audit_log, so it cannot disable the audit trail",
    )

    # --- topics and consumer group ---
    input_topic: str = Field("posts", description="Topic the posts are read from")
    output_topic: str = Field("moderation.decisions", description="Topic decisions are published to")
    dlq_topic: str = Field("posts.dlq", description="Dead-letter topic for messages that cannot be decided")
    group_id: str = Field("postguard", description="Kafka consumer group")
    session_timeout_ms: int = Field(10_000, ge=1_000, description="Kafka consumer session timeout")
    heartbeat_interval_ms: int = Field(3_000, ge=100, description="Kafka consumer heartbeat interval")
    max_message_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest message accepted/produced (inline images)"
    )

    # --- Kafka security (production brokers) ---
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_enable_idempotence: bool = Field(
        False,
        description="Idempotent producers (no duplicates from producer retries; needs a broker that "
        "supports it: Apache Kafka >= 0.11 does, Tansu does not). Everything is sent with acks=all",
    )

    # --- batching ---
    batch_max_size: int = Field(32, ge=1, le=1024, description="Most posts scored in one batch")
    batch_max_wait_ms: int = Field(50, ge=0, le=10_000, description="Longest wait to fill a batch")
    score_cheapest_first: bool = Field(
        True,
        description="Score, store and publish a batch's text posts, then plain photos, then images "
        "needing OCR, each group before the next (off: the whole batch at once)",
    )
    ocr_lane: bool = Field(
        True,
        description="Read images needing OCR on their own thread while the consumer goes on with later "
        "batches; offsets are committed per partition up to the first undecided post (needs "
        "score_cheapest_first; off: a batch waits for its OCR)",
    )
    ocr_lane_max_pending: int = Field(
        64, ge=1, le=4096, description="Most posts in the OCR lane; when full, consumption waits"
    )
    ocr_lane_readers: int = Field(
        1,
        ge=1,
        le=16,
        description="Images the OCR lane reads at a time (each on its own thread, sharing one OCR engine)",
    )
    ocr_lane_borrows_idle_inference: bool = Field(
        True,
        description="While the inference thread has nothing to score, it recognises some of the text "
        "lines of the meme the OCR lane is reading (same text, sooner; it hands the thread back "
        "after one line when scoring arrives)",
    )

    # --- model and policy ---
    model_path: Path | None = Field(None, description="Checkpoint directory; default: the bundled checkpoint")
    policy_path: Path | None = Field(None, description="Policy TOML file; default: the bundled policy")
    categories_path: Path | None = Field(
        None,
        description="Category bundle directory (example-defined categories scored beside the checkpoint's, "
        "see `postguard categories`); default: the bundled one (self_harm, violence, sexual)",
    )
    categories_enabled: bool = Field(
        True, description="Score the example-defined categories; false = the checkpoint's categories only"
    )
    nsfw_enabled: bool = Field(
        True,
        description="Score every image with the open_nsfw model as the `sexual` category's image evidence "
        "(when the category bundle has `sexual`); false = `sexual` reads text only",
    )
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads; default: all cores")

    # --- inference speed (docs/performance.md has the measured gain and accuracy delta of each) ---
    ocr_gate_threshold: float = Field(
        0.11,
        ge=0,
        le=1,
        description="OCR only images whose text likelihood reaches this; 0 = OCR every image",
    )
    encoder_cache_entries: int = Field(
        4096, ge=0, description="Entries per content-hash cache (text/image embeddings, OCR); 0 = off"
    )
    ocr_overlap: bool = Field(False, description="Run a batch's OCR in a second thread alongside torch")
    ocr_detection_max_side: int = Field(
        640,
        ge=0,
        le=4096,
        description="OCR text detection at most this many pixels a side; 0 = RapidOCR default",
    )
    quantize_text_encoder: bool = Field(
        False,
        description="int8 dynamic quantization of the text tower (torch only); the example-defined "
        "categories then read the int8 tower too, though their heads were fit on the float one "
        "(their scores shift; not measured)",
    )
    ocr_threads: int | None = Field(
        None, ge=1, description="onnxruntime threads of the OCR engine; default: all cores"
    )
    ocr_simplified_graphs: bool = Field(
        True,
        description="OCR on an exact simplification of RapidOCR's ONNX graphs (same text, ~half the time)",
    )
    ocr_recognition_batch: int = Field(
        1,
        ge=0,
        le=64,
        description="Text lines the OCR recogniser reads per call (padded to the widest); 0 = RapidOCR's 6",
    )
    text_encoder_runtime: Literal["torch", "onnxruntime"] = Field(
        "onnxruntime",
        description="Where the text tower runs: onnxruntime (an ONNX graph exported from the checkpoint "
        "at start, same embeddings, ~2 x faster per short post) or torch",
    )
    text_encoder_chunk: int = Field(
        4,
        ge=0,
        le=1024,
        description="Texts encoded per call, shortest first, so short texts are not padded to a batch's "
        "longest; 0 = a whole batch in one call",
    )
    image_encoder_chunk: int = Field(
        2,
        ge=0,
        le=1024,
        description="Images encoded per call (a few at a time is faster per image and holds far less "
        "memory than a whole batch); 0 = a whole batch in one call",
    )

    # --- memory (docs/performance.md: peak RSS) ---
    malloc_arena_max: int = Field(
        2, ge=0, le=64, description="Cap on glibc malloc arenas (like MALLOC_ARENA_MAX); 0 = glibc default"
    )
    trim_memory: bool = Field(
        True, description="Return freed heap pages to the kernel after each batch with images"
    )
    kafka_fetch_max_wait_ms: int = Field(
        100,
        ge=0,
        le=10_000,
        description="Longest a fetch waits for new posts (Tansu always waits it out; Apache Kafka answers early)",
    )
    kafka_fetch_max_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most bytes one Kafka fetch may buffer (raised to max_message_bytes if smaller)",
    )

    # --- images ---
    image_max_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest image (decoded base64 or fetched)"
    )
    image_max_pixels: int = Field(
        40_000_000, ge=1024, description="Largest pixel count (decompression-bomb guard)"
    )
    image_max_decode_bytes: int = Field(
        192 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most memory one image's decode may need, estimated from its header (a small PNG "
        "can claim gigabytes of pixels); larger images are dead-lettered as image_too_large",
    )
    image_decode_budget_bytes: int = Field(
        384 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most memory all image decodes in flight may hold together (raised to "
        "image_max_decode_bytes if smaller); decodes beyond it wait their turn",
    )
    image_fetch_enabled: bool = Field(False, description="Allow image URLs (fetched over http/https)")
    image_fetch_timeout_s: float = Field(5.0, gt=0, le=60, description="Total time to fetch one image URL")
    image_fetch_allow_private: bool = Field(
        False, description="Allow image URLs that resolve to private/loopback/link-local addresses"
    )
    image_fetch_allowlist: list[str] = Field(
        default_factory=list, description="Host names allowed even when they resolve to private addresses"
    )

    # --- HTTP (metrics, health) ---
    metrics_host: str = Field("0.0.0.0", description="Address the metrics/health server binds")
    metrics_port: int = Field(9108, ge=0, le=65535, description="Port of /metrics, /healthz, /readyz")
    metrics_refresh_interval_s: float = Field(
        15.0, gt=0, le=600, description="How often consumer lag and review queue depth are re-read"
    )

    # --- review workflow (service/review, docs/review.md) ---
    verdicts_topic: str = Field(
        "moderation.verdicts", description="Topic moderators' verdicts are published to"
    )
    review_secret: SecretStr | None = Field(
        None, description="Signs the review page's session cookies; required by `postguard review serve`"
    )
    review_host: str = Field("127.0.0.1", description="Address the review page binds")
    review_port: int = Field(8080, ge=0, le=65535, description="Port of the review page")
    review_claim_ttl_s: float = Field(
        900.0, gt=0, le=86_400, description="How long a claim lasts before the item returns to the queue"
    )
    review_cookie_secure: bool | None = Field(
        None,
        description="Send the review session cookie over HTTPS only; default: yes, unless the page "
        "binds a loopback address (set false only for plain HTTP on a trusted network)",
    )

    # --- synchronous API (`postguard api`, service/api, docs/api.md) ---
    api_host: str = Field("127.0.0.1", description="Address the moderation API binds")
    api_port: int = Field(8000, ge=0, le=65535, description="Port of the moderation API (and its /metrics)")
    api_allow_anonymous: bool = Field(
        False,
        description="Accept requests without an API key (local trials only: refused on a non-loopback host)",
    )
    api_rate_limit_per_minute: int = Field(
        600, ge=1, description="Requests per minute per API key, unless the key has its own limit"
    )
    api_max_request_bytes: int = Field(
        12 * 1024 * 1024, ge=1024, description="Largest API request body (inline images are base64)"
    )
    api_max_inputs: int = Field(32, ge=1, le=1024, description="Most inputs in one /v1/moderations request")
    api_batch_max: int = Field(32, ge=1, le=256, description="Most inputs scored in one model call")
    api_batch_wait_ms: float = Field(
        5.0, ge=0, le=1000, description="How long an input waits for others to share its model call"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("text_encoder_runtime")
    @classmethod
    def _check_text_runtime(cls, value: str, info: ValidationInfo) -> str:
        if value == "onnxruntime" and info.data.get("quantize_text_encoder"):
            raise ValueError(
                "onnxruntime cannot run the int8 torch layers of POSTGUARD_QUANTIZE_TEXT_ENCODER; "
                "set POSTGUARD_TEXT_ENCODER_RUNTIME=torch or turn the quantization off"
            )
        return value


class KafkaSettings(CommonSettings):
    """The settings of a command that talks to Kafka."""

    kafka_bootstrap: str = Field(description="Kafka bootstrap servers, host:port[,host:port...]")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        if not hosts:
            raise ValueError("must name at least one host:port")
        for host in hosts:
            name, _, port = host.rpartition(":")
            if not name or not port.isdigit():
                raise ValueError(f"{host!r} is not host:port")
        return ",".join(hosts)


class DatabaseSettings(CommonSettings):
    """The settings of a command that talks to PostgreSQL."""

    database_url: SecretStr = Field(
        description="PostgreSQL URL, e.g. postgresql://user:password@host:5432/db (driver chosen by postguard)"
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg"):
            raise ValueError(f"scheme {scheme or '(none)'!r} is not a PostgreSQL URL (postgresql://...)")
        return value

    @property
    def async_database_url(self) -> str:
        """The database URL with the asyncpg driver, whatever driver the user wrote."""
        return with_driver(self.database_url.get_secret_value(), "asyncpg")


class Settings(DatabaseSettings, KafkaSettings):
    """Everything ``postguard serve`` needs: both connections and every other setting."""


#: Which settings a command loads.
AnySettings = TypeVar("AnySettings", bound=CommonSettings)


def with_driver(url: str, driver: str) -> str:
    """Rewrite ``postgresql://`` / ``postgres://`` / ``postgresql+x://`` to ``postgresql+<driver>://``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=f"postgresql+{driver}"))


@overload
def load_settings(kind: None = None, /, **overrides: object) -> Settings: ...


@overload
def load_settings(kind: type[AnySettings], /, **overrides: object) -> AnySettings: ...


def load_settings(kind: type[CommonSettings] | None = None, /, **overrides: object) -> CommonSettings:
    """Read the settings of ``kind`` (default: all of them, :class:`Settings`), turning validation
    errors into one message that names each variable."""
    try:
        return (kind or Settings)(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            variable = ENV_PREFIX + field.upper()
            message = "is required but not set" if error["type"] == "missing" else error["msg"]
            problems.append(f"  {variable}: {message}")
        raise ConfigError("invalid configuration:\n" + "\n".join(problems)) from None
