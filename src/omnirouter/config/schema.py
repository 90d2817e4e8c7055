"""Typed configuration, as read from ``omnirouter.yaml``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from omnirouter.config.bounds import (
    AboveTokens,
    LongContextPrice,
    Multiplier,
    PriceAmount,
    PriceTiers,
    long_context_problem,
)
from omnirouter.config.notifications import NotificationsConfig
from omnirouter.providers.kinds import ProviderKind


class BreakerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Circuit breaker: open after ``failures`` within ``window`` seconds, probe after ``cooldown``."""

    failures: int = 5
    window: float = 60.0
    cooldown: float = 30.0


class RoutingConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How requests move between channels when one fails."""

    max_attempts: int = 4
    retry_after_max: float = 5.0
    keepalive_interval: float = 15.0
    invalid_key_cooldown: float = 600.0
    no_credit_cooldown: float = 3600.0


class ChannelConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An upstream: where it is, how to authenticate, which public models it serves."""

    name: str
    provider: ProviderKind
    # The wire the channel speaks upstream (docs/vendors.md): absent, the provider's own; ``anthropic`` on a
    # vendor with an Anthropic-compatible endpoint (DeepSeek, Kimi, GLM, Qwen, MiniMax) sends Anthropic
    # Messages there (thinking signatures kept), and its ``base_url`` defaults to that endpoint's base.
    protocol: Literal["openai", "anthropic"] | None = None
    # Optional where the provider has a public API (docs/vendors.md): its default base URL is used.
    base_url: str = ""
    api_keys: list[str]
    models: list[str]
    model_map: dict[str, str] = msgspec.field(default_factory=dict)
    priority: int = 0
    weight: int = 1
    responses_models: list[str] = msgspec.field(default_factory=list)
    max_output_tokens: int | None = None
    connect_timeout: float = 10.0
    first_byte_timeout: float = 300.0
    idle_timeout: float = 120.0
    total_timeout: float = 1800.0
    max_concurrency: int | None = None
    breaker: BreakerConfig | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    # Vendor settings beyond the key (docs/media.md, per provider): Volcengine ``app_id``, ``cluster``,
    # ``resource_id``; MiniMax ``group_id``; chat image output: ``image_output: markdown`` (images in the
    # answer text), ``image_models: "<glob>,..."`` (more models asked for text and images); ...
    options: dict[str, str] = msgspec.field(default_factory=dict)
    # Size caps on what the gateway buffers from this upstream; None: the gateway-wide value.
    max_upstream_body_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_upstream_error_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_event_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None


Positive = Annotated[int, msgspec.Meta(ge=1)]


class KeyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A client key: created at start if absent, its limits and access rules rewritten from here on every start.

    ``rpm`` / ``tpm`` / ``max_concurrent``: requests and tokens per minute, requests in flight;
    ``quota_usd``: the most it may spend; ``models``: allowed public models (glob patterns);
    ``ip_allow``: allowed client networks (CIDRs); ``expires_at``: RFC 3339, UTC when no zone is given;
    ``callback_url``: where its tasks' events are POSTed when a create names none (docs/tasks.md "Webhooks").
    ``None`` (absent) means no limit / no restriction.
    """

    name: str
    key: str
    rpm: Positive | None = None
    tpm: Positive | None = None
    max_concurrent: Positive | None = None
    quota_usd: Annotated[float, msgspec.Meta(ge=0)] | None = None
    models: list[str] | None = None
    ip_allow: list[str] | None = None
    group: str | None = None
    expires_at: datetime | None = None
    callback_url: str | None = None


class PriceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """USD per 1M tokens (``cached_input`` and ``cache_write`` default to ``input``, ``reasoning`` to
    ``output``; ``image_input`` / ``audio_input`` to ``input`` and ``image_output`` / ``audio_output`` to
    ``output``); USD ``per_image`` / ``per_second`` / ``per_1k_characters`` / ``per_call``, charged for
    the units an answer reports (media and tasks), and ``per_image_tiers``: USD per image by size
    (``1024x1024``), quality (``high``) or both (``1024x1536/high``), the most specific match first,
    ``per_image`` when none matches.  A price may combine token and unit fields: the charge is the sum
    (docs/accounts.md).  ``cache_write`` is Anthropic's 5-minute cache write, ``cache_write_1h`` its
    1-hour one (default ``cache_write``).  ``above_tokens`` + ``above``: long-context prices, charged for
    the whole request when its prompt (cached reads and writes included) is longer than ``above_tokens``."""

    input: PriceAmount = 0.0
    output: PriceAmount = 0.0
    cached_input: PriceAmount | None = None
    cache_write: PriceAmount | None = None
    reasoning: PriceAmount | None = None
    per_image: PriceAmount | None = None
    per_second: PriceAmount | None = None
    per_1k_characters: PriceAmount | None = None
    per_call: PriceAmount | None = None
    image_input: PriceAmount | None = None
    image_output: PriceAmount | None = None
    audio_input: PriceAmount | None = None
    audio_output: PriceAmount | None = None
    per_image_tiers: PriceTiers = msgspec.field(default_factory=dict)
    cache_write_1h: PriceAmount | None = None
    above_tokens: AboveTokens | None = None
    above: LongContextPrice | None = None

    def __post_init__(self) -> None:
        problem = long_context_problem(self.above_tokens, self.above)
        if problem is not None:
            raise ValueError(problem[1])


class ImageFetchConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fetching image URLs for upstreams that only take inline images."""

    allow_private: bool = False
    allow_hosts: list[str] = msgspec.field(default_factory=list)
    deny_hosts: list[str] = msgspec.field(default_factory=list)
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 15.0


class TasksConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Asynchronous tasks (docs/tasks.md): the poll schedule, deadline and result store.

    ``poll_first`` / ``poll_max`` (seconds): the first poll after submit and the longest gap between polls;
    ``poll_backoff``: the factor each gap grows by; ``deadline`` (seconds): a task still unfinished then
    fails and is refunded.  Unset (None): the vendor's own defaults (its codec's ``timing``).  A channel
    may override each in its ``options:`` as ``task_poll_first``, ``task_poll_max``, ``task_poll_backoff``,
    ``task_deadline`` (and cap its concurrent polls with ``task_poll_concurrency``).  ``poll_rate``: the most
    vendor calls per second to one channel, by every gateway process together with ``redis_url``, else by
    each process (None: uncapped; a channel's ``task_poll_rate`` option wins).
    ``result_store``: ``local:DIR`` (None: a ``results`` folder beside a SQLite database) or
    ``s3://bucket/prefix`` (``s3_endpoint_url`` for S3-compatible stores; credentials from the environment).
    ``result_max_bytes``: the largest output file copied (a bigger one fails the task, refunded);
    ``result_retention_days``: how long outputs are kept (None: for ever).
    ``http_timeout`` (seconds) bounds each poll call; a poller's lease lasts 4x it.  ``submit_grace``: how
    long a ``pending`` task stays its creating replica's before the reconciler may take it over;
    ``poll_interval``: seconds between a poller's claims when nothing is due.  ``run_pollers``: whether a
    gateway runs the poller, the retention sweep and the webhook sender beside its requests (false: only
    ``omnirouter tasks work`` processes run them).  ``modal_wait`` (seconds): how long a Midjourney task
    waiting in ``MODAL`` (a zoom, an inpaint, a remix) waits for the client's ``modal`` submit before it
    fails and is refunded.  ``image_sync_wait``: how long a synchronous image call to a vendor that only
    makes image tasks waits for its task (then a 504 naming it).
    """

    poll_first: Annotated[float, msgspec.Meta(gt=0)] | None = None
    poll_max: Annotated[float, msgspec.Meta(gt=0)] | None = None
    poll_backoff: Annotated[float, msgspec.Meta(ge=1)] = 1.5
    deadline: Annotated[float, msgspec.Meta(gt=0)] | None = None
    poll_rate: Annotated[float, msgspec.Meta(gt=0)] | None = None
    result_store: str | None = None
    s3_endpoint_url: str | None = None
    result_max_bytes: Annotated[int, msgspec.Meta(gt=0)] = 2 * 1024**3
    result_retention_days: Annotated[float, msgspec.Meta(gt=0)] | None = None
    http_timeout: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    submit_grace: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 900.0
    poll_interval: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    run_pollers: bool = True
    modal_wait: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 900.0
    image_sync_wait: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300.0


class WebhooksConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Client webhooks of tasks (docs/tasks.md "Webhooks"): each POST's ``timeout`` (seconds); a failed
    event is retried after ``first_retry`` × 3^(attempt-1) seconds, at most ``max_retry`` apart, until
    ``max_attempts`` attempts or ``max_age`` seconds, then dead; delivered and dead events are deleted
    ``retention_days`` after they were created."""

    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    first_retry: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    max_retry: Annotated[float, msgspec.Meta(gt=0)] = 6 * 3600.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 12
    max_age: Annotated[float, msgspec.Meta(gt=0)] = 3 * 86400.0
    retention_days: Annotated[float, msgspec.Meta(gt=0)] = 30.0


class RealtimeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The realtime relay (``GET /v1/realtime``, docs/realtime.md): a session is closed after ``idle_timeout``
    seconds without a frame either way or ``max_session_seconds`` in all; a frame over ``max_frame_bytes``
    ends it; the upstream socket is opened within ``open_timeout`` and pinged every ``ping_interval``
    seconds (closed when a pong takes over ``ping_timeout``).  Each response is reserved for at most
    ``response_input_tokens`` input and ``response_output_tokens`` output tokens (a channel's own
    ``max_output_tokens`` wins)."""

    idle_timeout: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    max_session_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 * 1024 * 1024
    open_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    ping_interval: Annotated[float, msgspec.Meta(gt=0)] | None = 20.0
    ping_timeout: Annotated[float, msgspec.Meta(gt=0)] | None = 20.0
    response_input_tokens: Annotated[int, msgspec.Meta(ge=1)] = 32768
    response_output_tokens: Annotated[int, msgspec.Meta(ge=1)] = 4096


class OtelConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """OpenTelemetry traces (docs/observability.md): one span per finished request, exported over OTLP/HTTP
    (protobuf) to ``endpoint`` (the full URL, e.g. ``http://collector:4318/v1/traces``) with ``headers``;
    ``sample_ratio`` of the requests are kept.  Needs the ``otel`` extra (``pip install omnirouter[otel]``)."""

    endpoint: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    service_name: str = "omnirouter"
    sample_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0


class GatewayConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration; every field has an embedded default."""

    database_url: str = "sqlite:///omnirouter.db"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    channels: list[ChannelConfig] = msgspec.field(default_factory=list)
    keys: list[KeyConfig] = msgspec.field(default_factory=list)
    prices: dict[str, PriceConfig] = msgspec.field(default_factory=dict)
    # Billing (docs/accounts.md): per-channel price overrides (channel -> public model -> price), price
    # groups (name -> multiplier), what an unpriced model costs, the output reserved when nothing caps it.
    channel_prices: dict[str, dict[str, PriceConfig]] = msgspec.field(default_factory=dict)
    groups: dict[str, Multiplier] = msgspec.field(default_factory=dict)
    unknown_price: Literal["free", "refuse"] = "free"
    default_max_output_tokens: int = 8192
    usage_flush_interval: float = 0.5
    # The usage journal (docs/operations.md): each worker appends every finished request to a local file until
    # its ledger row is committed, so a crash of the process loses none; fsync every ``usage_journal_fsync``
    # seconds (0: never) bounds what a crash of the machine may lose.  Folder: beside a SQLite file, else
    # ``omnirouter-journal`` in the working directory.
    usage_journal: bool = True
    usage_journal_dir: str | None = None
    usage_journal_fsync: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    usage_batch_size: int = 500
    max_body_bytes: int = 32 * 1024 * 1024  # after decompression (gzip/deflate bodies are inflated up to this)
    # A multipart upload (audio to transcribe or translate, images to edit), the whole body: a declared
    # Content-Length over it is refused with 413 before any byte is read, a chunked body as it crosses it.
    max_upload_bytes: Annotated[int, msgspec.Meta(ge=1)] = 25 * 1024 * 1024
    # Seconds a client has to send a request's headers (from connecting, or from the first byte of a later
    # request on a kept-alive connection); connections still short of a full header by then are closed.
    header_timeout: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    # What the gateway buffers from an upstream (channels may override each): a plain answer (larger:
    # the attempt fails), an error body (cut there, still relayed as an error), one stream event (larger:
    # the attempt fails, or a started stream ends with the protocol's error event).
    max_upstream_body_bytes: Annotated[int, msgspec.Meta(ge=1)] = 64 * 1024 * 1024
    max_upstream_error_bytes: Annotated[int, msgspec.Meta(ge=1)] = 64 * 1024
    max_event_bytes: Annotated[int, msgspec.Meta(ge=1)] = 32 * 1024 * 1024
    image_fetch: ImageFetchConfig = msgspec.field(default_factory=ImageFetchConfig)
    routing: RoutingConfig = msgspec.field(default_factory=RoutingConfig)
    breaker: BreakerConfig = msgspec.field(default_factory=BreakerConfig)
    fallbacks: dict[str, list[str]] = msgspec.field(default_factory=dict)
    tasks: TasksConfig = msgspec.field(default_factory=TasksConfig)
    # The gateway's public base URL as vendors reach it (``https://gw.example.com``): with it, vendors that
    # take a callback URL (Kling, Vidu, MiniMax, Ark) are asked to call back there, a hint that polls the
    # task at once (docs/tasks.md, "Vendor callbacks"); None: no callbacks are asked for, polling alone.
    public_url: str | None = None
    webhooks: WebhooksConfig = msgspec.field(default_factory=WebhooksConfig)
    notifications: NotificationsConfig = msgspec.field(default_factory=NotificationsConfig)  # operator alerts
    realtime: RealtimeConfig = msgspec.field(default_factory=RealtimeConfig)
    admin_key: str | None = None
    # Demo mode (docs/operations.md): with no channel in this file nor in the database, ``omnirouter serve``
    # serves demo models from the built-in mock upstream with a printed demo key; false: never.
    demo: bool = True
    reload_interval: float = 1.0  # seconds between checks for admin changes (keys, channels, prices)
    log_level: str = "info"
    # Observability (docs/observability.md): log lines as plain text or one JSON object each; one line per
    # finished request (logger ``omnirouter.requests``, INFO; None: with JSON logs only); ``GET /metrics`` open,
    # or behind this bearer key.
    log_format: Literal["plain", "json"] = "plain"
    request_log: bool | None = None
    metrics_key: str | None = None
    otel: OtelConfig | None = None  # None: no traces, and the OpenTelemetry SDK is never imported
    # Shared state between replicas (rate limits, breakers, change notices); None: each process alone.
    redis_url: str | None = None
    redis_prefix: str = "omnirouter:"
