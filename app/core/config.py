"""Settings from environment variables prefixed CLAIMS_."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    database_url: str = "sqlite:///./claims.db"
    require_key_for_reads: bool = False
    max_body_bytes: int = 1024 * 1024
    # Bodies of POST/PATCH /reports: a report's text is up to 500,000 characters, which is
    # up to 2,000,000 bytes of UTF-8 (a 500,000-character Arabic text is ~1 MB), or
    # 3,000,000 when a client escapes every character as \uXXXX. 4 MiB takes them all.
    max_report_body_bytes: int = 4 * 1024 * 1024
    # Seconds a SQLite writer waits for the lock before it gives up.
    sqlite_busy_timeout: float = 30.0
    db_pool_size: int = 10
    # Bounds of `claims-api serve` on each connection (app/http/protocol.py): the size of
    # a request's head (431 past it), the time to send it from the connection's opening or
    # the previous answer, the idle time between requests, and connections per process.
    max_header_bytes: int = 32 * 1024
    header_timeout_seconds: float = 10.0
    keep_alive_seconds: int = 5
    max_connections: int = 200
    # Requests per minute per API key (or per client address without one); 0 turns it off.
    rate_limit_per_minute: int = 1200
    # Addresses of the reverse proxies whose X-Forwarded-For / X-Forwarded-Proto `serve`
    # believes (a JSON list, "*" for any); empty: none, the peer's address is the client's.
    trusted_proxies: list[str] = []
    # Browser origins allowed to call the API (CORS); empty means none.
    cors_origins: list[str] = []
    # No statement may run longer than this: PostgreSQL's statement_timeout, a progress
    # handler on SQLite (app/core/db_bounds.py).
    statement_timeout_ms: int = 10_000
    # PostgreSQL: seconds to open a connection (libpq takes at least 2), and to answer the
    # pool's pre-ping; past either, the request fails fast with 503 (docs/reliability.md).
    db_connect_timeout_seconds: int = 2
    db_ping_timeout_seconds: float = 1.0
    # Seconds a request waits for a free pooled connection before its 503.
    db_pool_timeout_seconds: float = 5.0
    # How long a request with an Idempotency-Key owns it; after a crash, a retry waits this
    # long for the key (409 with Retry-After), then runs the request. Safe however short:
    # a write whose lease was taken over is rolled back (app/http/idempotency/in_transaction.py).
    idempotency_lease_seconds: float = 60.0
    # Memory for answers to open reads, served while the data is unchanged
    # (app/http/response_cache.py); 0 turns the cache off.
    response_cache_bytes: int = 32 * 1024 * 1024
    log_level: str = "INFO"
    seeds_dir: Path = Path(__file__).resolve().parents[2] / "seeds"
    # Webhooks (docs/webhooks.md). The sender runs inside `claims-api serve` unless this is
    # set to false there; anything else that builds the app (tests) leaves it off.
    webhook_sender: bool = False
    # Subscription URLs may resolve to loopback, private or link-local addresses (SSRF guard).
    webhook_allow_private_urls: bool = False
    # Subscription URLs may be plain http (otherwise https only).
    webhook_allow_http: bool = False
    webhook_timeout_seconds: float = 15.0
    # How long a sender owns a delivery it claimed; another takes it over after that.
    webhook_lease_seconds: float = 120.0
    webhook_poll_seconds: float = 1.0
    # Deliveries one sender has in flight at once.
    webhook_concurrency: int = 4
    # Delays before each retry (seconds, jittered); after the last one a delivery has failed.
    webhook_retry_schedule: list[float] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    # Events and their delivery records are kept this long.
    webhook_retention_days: int = 30


@lru_cache
def get_settings() -> Settings:
    return Settings()
