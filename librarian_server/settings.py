"""Server settings: ``LIBRARIAN_SERVER_*`` env vars over an optional TOML/JSON file.

The embedded default needs no configuration: everything (SQLite file, store,
staging, logs) lives under one data directory, so several servers can run side
by side with different ``--data-dir`` values.
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from librarian_client.checksum import new_hasher
from librarian_server.settings_names import check_names

_config_file: ContextVar[Path | None] = ContextVar("librarian_config_file", default=None)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "librarian"


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Reads the file named by ``--config`` or ``LIBRARIAN_SERVER_CONFIG_FILE``."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = _config_file.get() or os.environ.get("LIBRARIAN_SERVER_CONFIG_FILE")
        self._data: dict[str, Any] = {}
        if path:
            p = Path(path)
            text = p.read_text()
            self._data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class TaskSchedule(BaseModel):
    """Cadence and bounds of one background task."""

    enabled: bool = True
    every_seconds: float = Field(default=60.0, gt=0)
    time_limit_seconds: float = Field(
        default=600.0, gt=0, description="A run stops starting new work after this long."
    )
    batch_size: int = Field(default=1000, ge=1, le=10_000)


def _every(seconds: float, **extra: Any) -> Any:
    return Field(default_factory=lambda: TaskSchedule(every_seconds=seconds, **extra))


class BackgroundSettings(BaseModel):
    """The scheduled tasks; each runs in the server unless ``in_server`` is off."""

    in_server: bool = Field(
        default=True,
        description="Run the tasks inside the API server; turn off when separate "
        "`librarian-server background` processes do it.",
    )
    send_clone: TaskSchedule = _every(60)
    consume_queue: TaskSchedule = _every(60)
    receive_clone: TaskSchedule = _every(30)
    send_checkins: TaskSchedule = _every(60)
    hypervisor: TaskSchedule = _every(600)
    cleanup: TaskSchedule = _every(600)
    audit: TaskSchedule = _every(300)
    repair: TaskSchedule = _every(300)
    prove_copies: TaskSchedule = _every(10)
    # Each store's release or tiering policy; batch_size is copies judged per store a run.
    release: TaskSchedule = _every(3600, batch_size=200)
    # Cold stores: ask for staging, poll the tape system, expire jobs, release pins.
    staging: TaskSchedule = _every(10, batch_size=10_000)
    # Notifications owed to receivers outside the site (staging jobs' notify_url).
    deliver_outbox: TaskSchedule = _every(10, batch_size=100)
    # Fold new events into the per-day totals the dashboard shows (events per batch).
    tally: TaskSchedule = _every(10, batch_size=10_000)
    # Post new events to webhook subscriptions (events per POST).
    deliver_webhooks: TaskSchedule = _every(5, batch_size=100)


class ReplicationSettings(BaseModel):
    """How this site sends files to peers and answers them."""

    transfer_managers: list[str] = Field(
        default_factory=lambda: ["local", "globus", "http"],
        description="Preference order; a batch uses the first valid at both ends.",
    )
    peer_timeout_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    retry_backoff_seconds: float = Field(default=60.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    peer_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        description="After a batch fails because the peer is unreachable (or answers 5xx), "
        "nothing goes to it for this long, doubling with each failure in a row; the files "
        "wait without spending attempts.",
    )
    peer_backoff_max_seconds: float = Field(
        default=1800.0, gt=0, description="The longest wait between tries of an unreachable peer."
    )
    peer_backoff_jitter: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Each wait is shortened by a random part up to this fraction, so that "
        "sites do not all come back at one instant.",
    )
    stuck_after_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A transfer with no progress this long is reconciled with its peer.",
    )
    inline_verify_bytes: int = Field(
        default=1 << 30,
        ge=0,
        description="A clone commit hashes up to this many bytes while the peer waits; "
        "the rest are verified in the background and confirmed by check-in.",
    )
    claim_seconds: float = Field(
        default=900.0, gt=0, description="How long a worker's claim on a batch lasts unrenewed."
    )
    history_days: float = Field(
        default=30.0, gt=0, description="Finished transfers and batches are kept this long."
    )
    plan_lookback_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Planning rescans files created this long before the last plan, for "
        "commits that landed late.",
    )
    full_sweep_hours: float = Field(
        default=24.0, gt=0, description="How often planning checks every file, not only new ones."
    )
    proof_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How long this site waits for a peer to prove its copies; a peer that "
        "has not answered by then is taken to have no proven copy.",
    )
    request_proof_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a release asked through the API (dry run included) waits for "
        "peers' proofs, so that it answers before an HTTP client gives up; a copy not proven "
        "by then is blocked. The background task waits `proof_timeout_seconds`.",
    )
    proof_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often a peer's proof job is asked after."
    )
    proof_retention_hours: float = Field(
        default=24.0, gt=0, description="Proof jobs peers asked of this site are kept this long."
    )


class SneakernetSettings(BaseModel):
    """Disks carried by hand: where they may be mounted, and when an absent one is overdue."""

    roots: list[Path] = Field(
        default_factory=list,
        description="Directories under which disks may be exported to or ingested from; "
        "empty allows any absolute path (administrators only either way).",
    )
    overdue_days: float = Field(
        default=14.0, gt=0, description="Files on a disk unconfirmed this long are overdue."
    )
    reserve_bytes: int = Field(
        default=64 << 20, ge=0, description="Space always left free on a disk being written."
    )
    chunk_files: int = Field(
        default=64, ge=1, description="Files claimed, written and listed per step of an export."
    )


class IntegritySettings(BaseModel):
    """Keeping copies true: how often each copy is re-read, how hard, and repair."""

    audit_period_days: float = Field(
        default=30.0, gt=0, description="Every copy on every store is re-hashed this often."
    )
    audit_bytes_per_second: int | None = Field(
        default=None, ge=1, description="Read limit of the audit on each store; None: no limit."
    )
    audit_files_per_second: float | None = Field(
        default=None, gt=0, description="Copies re-hashed per second on each store; None: no limit."
    )
    walk_every_hours: float = Field(
        default=24.0, gt=0, description="How often each store is walked for dark (stray) files."
    )
    auto_repair: bool = Field(
        default=True, description="Repair damaged copies without an operator's command."
    )
    repair_retry_seconds: float = Field(
        default=3600.0, gt=0, description="Wait before retrying a repair that found no source."
    )


class ColdSettings(BaseModel):
    """Cold (tape) stores: how staging jobs live, and where the tape system's events come."""

    pin_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="A copy staged (or written) onto a cold store's disk cache stays there this "
        "long, then is released back to tape.",
    )
    restage_after_seconds: float = Field(
        default=900.0,
        gt=0,
        description="A stage request with no news for this long is looked up, and asked again "
        "if the tape system lost it.",
    )
    poll_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="With no event from the bus for this long, poll the tape system instead.",
    )
    job_expiry_seconds: float = Field(
        default=7 * 86_400.0, gt=0, description="A job not complete by then fails."
    )
    job_retention_seconds: float = Field(
        default=14 * 86_400.0,
        gt=0,
        description="A finished job is kept (and its notification retried) this long.",
    )
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_backoff_seconds: float = Field(default=10.0, gt=0)
    notify_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    events_url: str | None = Field(
        default=None,
        description="The NATS server the tape system announces staged files on "
        "(nats://host:port); None: poll only.",
    )
    events_stream: str = Field(default="TAPE_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    events_subject_prefix: str = Field(
        default="tape.events", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )
    events_durable: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The durable consumer's name; None: librarian-<site name>.",
    )


class WebhookSettings(BaseModel):
    """Posting events to subscribed receivers: how long to wait, and how to back off."""

    timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="Each POST's timeout.")
    backoff_seconds: float = Field(
        default=10.0, gt=0, description="First wait before a failed delivery is tried again."
    )
    backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="The wait doubles per failure in a row, up to this."
    )


class GlobusStoreMapping(BaseModel):
    """Where one store's root appears on this site's Globus collection."""

    store: str
    path: str = Field(description="Absolute path on the collection of the store's root.")


class GlobusSettings(BaseModel):
    """Globus transfers: a service account (client credentials) or a refresh token."""

    enabled: bool = False
    endpoint_id: str | None = Field(default=None, description="This site's collection UUID.")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    refresh_token: SecretStr | None = None
    refresh_token_file: Path | None = None
    stores: list[GlobusStoreMapping] = Field(default_factory=list)
    deadline_hours: float = Field(default=24.0, gt=0)
    max_active_tasks: int = Field(default=50, ge=1, le=100)
    verify_checksum: bool = True

    @model_validator(mode="after")
    def _read_secret_files(self) -> GlobusSettings:
        if self.client_secret is None and self.client_secret_file is not None:
            self.client_secret = SecretStr(self.client_secret_file.read_text().strip())
        if self.refresh_token is None and self.refresh_token_file is not None:
            self.refresh_token = SecretStr(self.refresh_token_file.read_text().strip())
        return self

    @property
    def configured(self) -> bool:
        has_auth = self.client_secret is not None or self.refresh_token is not None
        return self.enabled and bool(self.endpoint_id and self.client_id and has_auth)

    def path_for_store(self, store_name: str) -> str | None:
        return next((m.path for m in self.stores if m.store == store_name), None)


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIBRARIAN_SERVER_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    site_name: str = Field(default="librarian", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    host: str = "127.0.0.1"
    port: int = Field(default=21108, ge=0, le=65535)
    public_url: str | None = Field(
        default=None, description="URL clients use to reach this server; default http://host:port."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API processes `librarian-server run` starts; more than one needs the "
        "background tasks in their own process and a start-up grace for uploads.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies (comma-separated IPs or networks, * for any) whose "
        "X-Forwarded-For/-Proto headers are believed.",
    )

    database_url: SecretStr | None = None
    database_url_file: Path | None = None
    database_echo: bool = False

    checksum_algorithm: str = "md5"
    offer_local_paths: bool = True
    max_name_length: int = Field(default=1024, ge=16, le=4096)
    max_batch_size: int = Field(default=10_000, ge=1)

    default_store_name: str = "local"
    default_store_capacity_bytes: int | None = Field(default=None, ge=0)
    default_store_buckets: Literal["up-front", "on-first-use"] = Field(
        default="up-front",
        description="Make the default store's 4,096 bucket directories when it is created, "
        "or each at its first commit (a mkdir and a directory fsync then; for small or "
        "short-lived sites).",
    )
    min_free_bytes: int = Field(
        default=0, ge=0, description="Space always left free on a store's filesystem."
    )
    staging_timeout_seconds: int = Field(
        default=86_400,
        gt=0,
        description="An upload idle this long is failed and its bytes removed.",
    )
    delete_grace_seconds: int = Field(
        default=86_400,
        ge=0,
        description="For this long after upload, an uploader may delete their own file "
        "if no other site has it; after that (or once replicated) only an admin with force.",
    )

    allow_anonymous_read: bool = False
    auth_cache_seconds: float = Field(default=300.0, ge=0)
    token_max_lifetime_seconds: int = Field(
        default=90 * 86_400,
        gt=0,
        le=100 * 365 * 86_400,
        description="No bearer token lives longer than this; a token made with a token "
        "also never outlives its parent.",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins (per user, per address) before a lock-out."
    )
    login_lockout_seconds: float = Field(
        default=30.0, gt=0, description="The first lock-out; each further failure doubles it."
    )
    login_lockout_max_seconds: float = Field(default=3600.0, gt=0)
    login_failure_window_seconds: float = Field(
        default=900.0, gt=0, description="Failures are forgotten after this long without one."
    )
    max_json_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="Request bodies of the JSON API."
    )
    max_manifest_body_bytes: int = Field(
        default=32 << 20,
        ge=1024,
        description="Batch manifests: upload stage/commit, clone stage/complete/status, check-ins.",
    )
    max_vospace_document_bytes: int = Field(
        default=256 << 10, ge=1024, description="VOSpace node and transfer documents and forms."
    )
    initial_admin_name: str = "admin"
    write_client_config: bool = Field(
        default=True,
        description="On first start of the embedded default, save a client connection "
        "(URL + bearer token) so that `librarian` works at once.",
    )
    log_level: str = "INFO"
    events_max_wait_seconds: float = Field(
        default=60.0, gt=0, le=60, description="The longest a `GET /events?wait=` long poll lasts."
    )

    metrics_enabled: bool = Field(
        default=True,
        description="Serve GET /metrics (Prometheus) and count into DATA_DIR/metrics.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires; None: /metrics is open to anyone.",
    )
    metrics_token_file: Path | None = None

    secret_key_file: Path | None = Field(
        default=None,
        description="Key that encrypts peer credentials in the database; default "
        "DATA_DIR/secret.key, created on first use. Every process of a site needs the same.",
    )
    background: BackgroundSettings = Field(default_factory=BackgroundSettings)
    replication: ReplicationSettings = Field(default_factory=ReplicationSettings)
    globus: GlobusSettings = Field(default_factory=GlobusSettings)
    sneakernet: SneakernetSettings = Field(default_factory=SneakernetSettings)
    integrity: IntegritySettings = Field(default_factory=IntegritySettings)
    cold: ColdSettings = Field(default_factory=ColdSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    ui_enabled: bool = Field(default=True, description="Serve the web dashboard under /ui.")
    ui_session_seconds: int = Field(
        default=8 * 3600,
        gt=0,
        le=100 * 365 * 86_400,
        description="A dashboard login lasts this long (never past the token maximum).",
    )

    vospace_enabled: bool = Field(default=True, description="Serve VOSpace 2.1 under /vospace.")
    vospace_resource_id: str = Field(
        default="ivo://example.org/vospace",
        pattern=r"^ivo://[A-Za-z0-9][A-Za-z0-9._~-]*(/[A-Za-z0-9._~-]+)+$",
        description="The service's IVOA identifier; node URIs are vos://<authority>!<path>/...",
    )
    vospace_allow_anonymous_read: bool | None = Field(
        default=None, description="Anonymous VOSpace reads; unset follows allow_anonymous_read."
    )
    vospace_endpoint_lifetime_seconds: int = Field(
        default=3600, gt=0, description="How long a negotiated transfer endpoint stays usable."
    )
    vospace_execution_duration_seconds: int = Field(
        default=86_400, gt=0, description="How long a move or copy job may run."
    )
    vospace_job_retention_seconds: int = Field(
        default=7 * 86_400, gt=0, description="Jobs are destroyed this long after creation."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _ConfigFileSource(settings_cls)
        check_names(settings_cls, config_file.data, os.environ)
        return (init_settings, env_settings, config_file, file_secret_settings)

    @field_validator("checksum_algorithm")
    @classmethod
    def _known_algorithm(cls, value: str) -> str:
        new_hasher(value)  # raises a ChecksumError (a ValueError) when unusable
        return value

    @model_validator(mode="after")
    def _read_secret_files(self) -> ServerSettings:
        if self.database_url is None and self.database_url_file is not None:
            self.database_url = SecretStr(self.database_url_file.read_text().strip())
        if self.metrics_token is None and self.metrics_token_file is not None:
            self.metrics_token = SecretStr(self.metrics_token_file.read_text().strip())
        if self.metrics_token is not None and not self.metrics_token.get_secret_value().strip():
            raise ValueError("metrics_token is empty: set a token, or none to leave /metrics open")
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    @property
    def is_embedded(self) -> bool:
        """True when the database is the data directory's own SQLite file."""
        return self.database_url is None

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            return f"sqlite:///{self.data_dir / 'librarian.sqlite3'}"
        url = self.database_url.get_secret_value()
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def metrics_dir(self) -> Path:
        """Where every process of the site keeps its counters (multiprocess files)."""
        return self.data_dir / "metrics"

    @property
    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def vospace_anonymous_read(self) -> bool:
        if self.vospace_allow_anonymous_read is None:
            return self.allow_anonymous_read
        return self.vospace_allow_anonymous_read


def load_settings(config_file: Path | None = None, **overrides: Any) -> ServerSettings:
    """Build settings; explicit overrides (CLI flags) win over env, env over the file."""
    token = _config_file.set(config_file)
    try:
        return ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _config_file.reset(token)
