"""The box's configuration: one explicit object read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.config import ConfigError, absolute, read_bool, read_float, read_int
from core.ingest.dates import DATE_ORDERS
from core.ingest.filing import MRN_CHECKS, NEW_PATIENT_POLICIES
from core.ingest.sandbox import Budget

SEAL_TPM2 = ("auto", "on", "off")


def default_runtime_dir(env=None) -> Path:
    """A folder in RAM for the unsealed data key: systemd's RuntimeDirectory, else a folder of this
    user's own in /dev/shm (made 0700 and checked for its owner before use)."""
    env = os.environ if env is None else env
    return Path(env.get("RUNTIME_DIRECTORY") or f"/dev/shm/digifort-{os.getuid()}")  # noqa: S108


@dataclass(frozen=True)
class Config:
    """Every setting of the box, with its default."""

    data_dir: Path = Path("var/appliance")
    inbox: Path | None = None
    watch_polling: bool = False
    stable_seconds: float = 2.0
    empty_grace_seconds: float = 60.0
    rescan_seconds: float = 30.0
    ocr_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    ocr_language: str = "eng"
    page_timeout_seconds: int = 120
    max_pages: int = 200
    max_page_pixels: int = 90_000_000
    max_file_bytes: int = 500 * 1024 * 1024
    render_seconds: float = 60.0
    render_memory_mb: int = 1024
    date_order: str = "DMY"
    doc_type_rules: Path | None = None
    job_attempts: int = 3
    bind: str = "127.0.0.1:8080"
    web_workers: int = 2
    idle_minutes: float = 15.0
    session_hours: float = 12.0
    secure_cookies: bool = False
    secret_key: str | None = None
    login_limit_per_account: str = "5 per 5 minutes"
    login_limit_per_address: str = "20 per 5 minutes"
    require_mfa: bool = False
    sync_batch_items: int = 100
    sync_batch_bytes: int = 4 * 1024 * 1024
    sync_chunk_bytes: int = 1024 * 1024
    sync_interval_seconds: float = 30.0
    sync_max_backoff_seconds: float = 300.0
    sync_timeout_seconds: float = 60.0
    sync_bandwidth_bytes: int = 0
    sync_parallel_uploads: int = 4
    sync_blob_window: str = ""
    metrics_token: str | None = None
    retention_days: int = 0
    trash_days: int = 30
    proxy_hops: int = 0
    min_free_mb: int = 200
    new_patients: str = "auto"
    mrn_check: str = "none"
    mrn_system: str = ""
    id_confidence: float = 80.0
    encryption: bool = False
    runtime_dir: Path = field(default_factory=lambda: default_runtime_dir())
    tang_urls: tuple[str, ...] = ()
    seal_tpm2: str = "auto"
    unlock_retry_seconds: float = 30.0

    def __post_init__(self):
        object.__setattr__(self, "data_dir", absolute(Path(self.data_dir)))
        object.__setattr__(self, "runtime_dir", absolute(Path(self.runtime_dir)))
        if self.seal_tpm2 not in SEAL_TPM2:
            raise ConfigError(f"APPLIANCE_SEAL_TPM2 must be one of {', '.join(SEAL_TPM2)}, got {self.seal_tpm2!r}")
        object.__setattr__(self, "inbox", absolute(Path(self.inbox)) if self.inbox else self.data_dir / "inbox")
        if self.doc_type_rules is not None:
            object.__setattr__(self, "doc_type_rules", absolute(Path(self.doc_type_rules)))
        if self.date_order not in DATE_ORDERS:
            raise ConfigError(f"APPLIANCE_DATE_ORDER must be one of {', '.join(DATE_ORDERS)}, got {self.date_order!r}")
        if self.new_patients not in ("auto", *NEW_PATIENT_POLICIES):
            raise ConfigError(f"APPLIANCE_NEW_PATIENTS must be auto, never or confident, got {self.new_patients!r}")
        if self.mrn_check not in MRN_CHECKS:
            raise ConfigError(f"APPLIANCE_MRN_CHECK must be one of {', '.join(MRN_CHECKS)}, got {self.mrn_check!r}")
        if self.trash_days < 1:
            raise ConfigError("APPLIANCE_TRASH_DAYS must be at least 1")
        if self.ocr_processes < 1:
            raise ConfigError("APPLIANCE_OCR_PROCESSES must be at least 1")
        if self.render_seconds <= 0 or self.render_memory_mb < 256:
            raise ConfigError("APPLIANCE_RENDER_SECONDS must be above 0 and APPLIANCE_RENDER_MEMORY_MB at least 256")

    @property
    def render_budget(self) -> Budget:
        """What rendering one page (or opening one file) may take: wall-clock seconds, memory."""
        return Budget(self.render_seconds, self.render_memory_mb)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "appliance.db"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def views_dir(self) -> Path:
        return self.data_dir / "views"

    @property
    def sync_dir(self) -> Path:
        return self.data_dir / "sync"

    @property
    def keys_dir(self) -> Path:
        """The data key's sealed copies (Clevis, passphrase): the one folder that is never encrypted."""
        return self.data_dir / "keys"

    def with_overrides(self, **changes) -> Config:
        """A copy with some settings changed (tests and the CLI use it)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env=None) -> Config:
        """Read the configuration from environment variables (APPLIANCE_*)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("APPLIANCE_DATA_DIR") or cls.data_dir)
        inbox = env.get("APPLIANCE_INBOX")
        rules = env.get("APPLIANCE_DOC_TYPE_RULES")
        defaults = cls()
        return cls(
            data_dir=data_dir,
            inbox=Path(inbox) if inbox else None,
            watch_polling=read_bool(env, "APPLIANCE_WATCH_POLLING", defaults.watch_polling),
            stable_seconds=read_float(env, "APPLIANCE_STABLE_SECONDS", defaults.stable_seconds),
            empty_grace_seconds=read_float(env, "APPLIANCE_EMPTY_GRACE_SECONDS", defaults.empty_grace_seconds),
            rescan_seconds=read_float(env, "APPLIANCE_RESCAN_SECONDS", defaults.rescan_seconds),
            ocr_processes=read_int(env, "APPLIANCE_OCR_PROCESSES", defaults.ocr_processes),
            ocr_language=env.get("APPLIANCE_OCR_LANGUAGE") or defaults.ocr_language,
            page_timeout_seconds=read_int(env, "APPLIANCE_PAGE_TIMEOUT_SECONDS", defaults.page_timeout_seconds),
            max_pages=read_int(env, "APPLIANCE_MAX_PAGES", defaults.max_pages),
            max_page_pixels=read_int(env, "APPLIANCE_MAX_PAGE_PIXELS", defaults.max_page_pixels),
            max_file_bytes=read_int(env, "APPLIANCE_MAX_FILE_BYTES", defaults.max_file_bytes),
            render_seconds=read_float(env, "APPLIANCE_RENDER_SECONDS", defaults.render_seconds),
            render_memory_mb=read_int(env, "APPLIANCE_RENDER_MEMORY_MB", defaults.render_memory_mb),
            date_order=(env.get("APPLIANCE_DATE_ORDER") or defaults.date_order).upper(),
            doc_type_rules=Path(rules) if rules else None,
            job_attempts=read_int(env, "APPLIANCE_JOB_ATTEMPTS", defaults.job_attempts),
            bind=env.get("APPLIANCE_BIND") or defaults.bind,
            web_workers=read_int(env, "APPLIANCE_WEB_WORKERS", defaults.web_workers),
            idle_minutes=read_float(env, "APPLIANCE_IDLE_MINUTES", defaults.idle_minutes),
            session_hours=read_float(env, "APPLIANCE_SESSION_HOURS", defaults.session_hours),
            secure_cookies=read_bool(env, "APPLIANCE_SECURE_COOKIES", defaults.secure_cookies),
            secret_key=env.get("APPLIANCE_SECRET_KEY") or None,
            login_limit_per_account=env.get("APPLIANCE_LOGIN_LIMIT_PER_ACCOUNT") or defaults.login_limit_per_account,
            login_limit_per_address=env.get("APPLIANCE_LOGIN_LIMIT_PER_ADDRESS") or defaults.login_limit_per_address,
            require_mfa=read_bool(env, "APPLIANCE_REQUIRE_MFA", defaults.require_mfa),
            sync_batch_items=read_int(env, "APPLIANCE_SYNC_BATCH_ITEMS", defaults.sync_batch_items),
            sync_batch_bytes=read_int(env, "APPLIANCE_SYNC_BATCH_BYTES", defaults.sync_batch_bytes),
            sync_chunk_bytes=read_int(env, "APPLIANCE_SYNC_CHUNK_BYTES", defaults.sync_chunk_bytes),
            sync_interval_seconds=read_float(env, "APPLIANCE_SYNC_INTERVAL_SECONDS", defaults.sync_interval_seconds),
            sync_max_backoff_seconds=read_float(
                env, "APPLIANCE_SYNC_MAX_BACKOFF_SECONDS", defaults.sync_max_backoff_seconds
            ),
            sync_timeout_seconds=read_float(env, "APPLIANCE_SYNC_TIMEOUT_SECONDS", defaults.sync_timeout_seconds),
            sync_bandwidth_bytes=read_int(env, "APPLIANCE_SYNC_BANDWIDTH_BYTES", defaults.sync_bandwidth_bytes),
            sync_parallel_uploads=max(
                1, read_int(env, "APPLIANCE_SYNC_PARALLEL_UPLOADS", defaults.sync_parallel_uploads)
            ),
            sync_blob_window=env.get("APPLIANCE_SYNC_BLOB_WINDOW") or defaults.sync_blob_window,
            metrics_token=env.get("APPLIANCE_METRICS_TOKEN") or None,
            retention_days=read_int(env, "APPLIANCE_RETENTION_DAYS", defaults.retention_days),
            trash_days=read_int(env, "APPLIANCE_TRASH_DAYS", defaults.trash_days),
            proxy_hops=read_int(env, "APPLIANCE_PROXY_HOPS", defaults.proxy_hops),
            min_free_mb=read_int(env, "APPLIANCE_MIN_FREE_MB", defaults.min_free_mb),
            new_patients=(env.get("APPLIANCE_NEW_PATIENTS") or defaults.new_patients).lower(),
            mrn_check=(env.get("APPLIANCE_MRN_CHECK") or defaults.mrn_check).lower(),
            mrn_system=env.get("APPLIANCE_MRN_SYSTEM") or defaults.mrn_system,
            id_confidence=read_float(env, "APPLIANCE_ID_CONFIDENCE", defaults.id_confidence),
            encryption=read_bool(env, "APPLIANCE_ENCRYPTION", defaults.encryption),
            runtime_dir=Path(env.get("APPLIANCE_RUNTIME_DIR") or default_runtime_dir(env)),
            tang_urls=tuple(url.strip() for url in (env.get("APPLIANCE_TANG_URLS") or "").split(",") if url.strip()),
            seal_tpm2=(env.get("APPLIANCE_SEAL_TPM2") or defaults.seal_tpm2).lower(),
            unlock_retry_seconds=read_float(env, "APPLIANCE_UNLOCK_RETRY_SECONDS", defaults.unlock_retry_seconds),
        )
