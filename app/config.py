"""Settings from environment variables prefixed CLAIMS_."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    database_url: str = "sqlite:///./claims.db"
    require_key_for_reads: bool = False
    max_body_bytes: int = 1024 * 1024
    # Seconds a SQLite writer waits for the lock before it gives up.
    sqlite_busy_timeout: float = 30.0
    db_pool_size: int = 10
    # Requests per minute per API key (or per client address without one); 0 turns it off.
    rate_limit_per_minute: int = 1200
    # Browser origins allowed to call the API (CORS); empty means none.
    cors_origins: list[str] = []
    # PostgreSQL statement timeout: no query may hold a connection longer than this.
    statement_timeout_ms: int = 10_000
    log_level: str = "INFO"
    seeds_dir: Path = Path(__file__).resolve().parent.parent / "seeds"


@lru_cache
def get_settings() -> Settings:
    return Settings()
