"""The hub's configuration: one explicit object read from the environment.

Nothing set means the embedded default: SQLite and a local blob folder under HUB_DATA_DIR,
jobs run in-process, nonces and rate limits kept in the database. Each real service is chosen
by one setting: DATABASE_URL, REDIS_URL, S3_BUCKET (with S3_ENDPOINT_URL for a non-AWS S3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from core.config import ConfigError, absolute, read_bool, read_float, read_int
from core.ingest.dates import DATE_ORDERS
from core.ingest.filing import MRN_CHECKS, NEW_PATIENT_POLICIES
from core.ingest.sandbox import Budget


@dataclass(frozen=True)
class HubConfig:
    """Every setting of the hub, with its default."""

    data_dir: Path = Path("var/hub")
    database_url: str | None = None
    redis_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "eu-west-2"
    bind: str = "127.0.0.1:8090"
    web_workers: int = 2
    clock_skew_seconds: int = 300
    enrolment_token_hours: int = 72
    chunk_bytes: int = 8 * 1024 * 1024
    max_batch_items: int = 500
    max_batch_bytes: int = 8 * 1024 * 1024
    secret_key: str | None = None
    archive_after_days: int = 365
    archive_storage_class: str = "STANDARD_IA"
    view_cache_days: float = 7.0
    metrics_token: str | None = None
    idle_minutes: float = 30.0
    session_hours: float = 12.0
    secure_cookies: bool = True
    login_limit_per_account: str = "5 per 5 minutes"
    login_limit_per_address: str = "20 per 5 minutes"
    mfa_grace_days: float = 7.0
    proxy_hops: int = 0
    date_order: str = "DMY"
    ocr_language: str = "eng"
    page_timeout_seconds: int = 120
    max_pages: int = 300
    max_page_pixels: int = 90_000_000
    max_file_bytes: int = 500 * 1024 * 1024
    render_seconds: float = 60.0
    render_memory_mb: int = 1024
    new_patients: str = "confident"
    mrn_check: str = "none"
    id_confidence: float = 80.0

    def __post_init__(self):
        object.__setattr__(self, "data_dir", absolute(Path(self.data_dir)))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def render_budget(self) -> Budget:
        """What rendering one page (or opening one file) may take: wall-clock seconds, memory."""
        return Budget(self.render_seconds, self.render_memory_mb)

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"

    @property
    def views_dir(self) -> Path:
        return self.data_dir / "views"

    def with_overrides(self, **changes) -> HubConfig:
        """A copy with some settings changed (tests use it)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env=None) -> HubConfig:
        """Read the configuration from environment variables (HUB_*, DATABASE_URL, REDIS_URL, S3_*)."""
        env = os.environ if env is None else env
        defaults = cls()
        config = cls(
            data_dir=Path(env.get("HUB_DATA_DIR") or defaults.data_dir),
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            s3_bucket=env.get("S3_BUCKET") or None,
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            s3_region=env.get("S3_REGION") or defaults.s3_region,
            bind=env.get("HUB_BIND") or defaults.bind,
            web_workers=read_int(env, "HUB_WEB_WORKERS", defaults.web_workers),
            clock_skew_seconds=read_int(env, "HUB_CLOCK_SKEW_SECONDS", defaults.clock_skew_seconds),
            enrolment_token_hours=read_int(
                env,
                "HUB_ENROLMENT_TOKEN_HOURS",
                read_int(env, "HUB_ENROLLMENT_TOKEN_HOURS", defaults.enrolment_token_hours),
            ),
            chunk_bytes=read_int(env, "HUB_CHUNK_BYTES", defaults.chunk_bytes),
            max_batch_items=read_int(env, "HUB_MAX_BATCH_ITEMS", defaults.max_batch_items),
            max_batch_bytes=read_int(env, "HUB_MAX_BATCH_BYTES", defaults.max_batch_bytes),
            secret_key=env.get("HUB_SECRET_KEY") or None,
            archive_after_days=read_int(env, "HUB_ARCHIVE_AFTER_DAYS", defaults.archive_after_days),
            archive_storage_class=env.get("HUB_ARCHIVE_STORAGE_CLASS") or defaults.archive_storage_class,
            view_cache_days=read_float(env, "HUB_VIEW_CACHE_DAYS", defaults.view_cache_days),
            metrics_token=env.get("HUB_METRICS_TOKEN") or None,
            idle_minutes=read_float(env, "HUB_IDLE_MINUTES", defaults.idle_minutes),
            session_hours=read_float(env, "HUB_SESSION_HOURS", defaults.session_hours),
            secure_cookies=read_bool(env, "HUB_SECURE_COOKIES", defaults.secure_cookies),
            login_limit_per_account=env.get("HUB_LOGIN_LIMIT_PER_ACCOUNT") or defaults.login_limit_per_account,
            login_limit_per_address=env.get("HUB_LOGIN_LIMIT_PER_ADDRESS") or defaults.login_limit_per_address,
            mfa_grace_days=read_float(env, "HUB_MFA_GRACE_DAYS", defaults.mfa_grace_days),
            proxy_hops=read_int(env, "HUB_PROXY_HOPS", defaults.proxy_hops),
            date_order=(env.get("HUB_DATE_ORDER") or defaults.date_order).upper(),
            ocr_language=env.get("HUB_OCR_LANGUAGE") or defaults.ocr_language,
            page_timeout_seconds=read_int(env, "HUB_PAGE_TIMEOUT_SECONDS", defaults.page_timeout_seconds),
            max_pages=read_int(env, "HUB_MAX_PAGES", defaults.max_pages),
            max_page_pixels=read_int(env, "HUB_MAX_PAGE_PIXELS", defaults.max_page_pixels),
            max_file_bytes=read_int(env, "HUB_MAX_FILE_BYTES", defaults.max_file_bytes),
            render_seconds=read_float(env, "HUB_RENDER_SECONDS", defaults.render_seconds),
            render_memory_mb=read_int(env, "HUB_RENDER_MEMORY_MB", defaults.render_memory_mb),
            new_patients=(env.get("HUB_NEW_PATIENTS") or defaults.new_patients).lower(),
            mrn_check=(env.get("HUB_MRN_CHECK") or defaults.mrn_check).lower(),
            id_confidence=read_float(env, "HUB_ID_CONFIDENCE", defaults.id_confidence),
        )
        if config.date_order not in DATE_ORDERS:
            raise ConfigError(f"HUB_DATE_ORDER must be one of {', '.join(DATE_ORDERS)}, got {config.date_order!r}")
        if config.new_patients not in NEW_PATIENT_POLICIES:
            raise ConfigError(f"HUB_NEW_PATIENTS must be never or confident, got {config.new_patients!r}")
        if config.mrn_check not in MRN_CHECKS:
            raise ConfigError(f"HUB_MRN_CHECK must be one of {', '.join(MRN_CHECKS)}, got {config.mrn_check!r}")
        if config.clock_skew_seconds < 30:
            raise ConfigError("HUB_CLOCK_SKEW_SECONDS must be at least 30")
        if config.render_seconds <= 0 or config.render_memory_mb < 256:
            raise ConfigError("HUB_RENDER_SECONDS must be above 0 and HUB_RENDER_MEMORY_MB at least 256")
        return config
