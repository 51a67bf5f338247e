"""Issue 13, hole 8: X-Forwarded-For names the client only when the peer is a proxy the
operator trusts (CLAIMS_TRUSTED_PROXIES, default none). Before, any loopback peer was
believed, so a local client could claim a new address, hence a new rate-limit bucket, per
request. Against the real server; the client address is seen through the rate limiter."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import Server


def statuses(server: Server) -> list[int]:
    """Four reads, each claiming another client address, against a limit of 3 a minute."""
    with server.client() as client:
        return [
            client.get("/sources", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(4)
        ]


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [(None, [200, 200, 200, 429]), ('["127.0.0.1"]', [200, 200, 200, 200])],
)
def test_x_forwarded_for_is_believed_from_trusted_proxies_only(
    tmp_path: Path, trusted: str | None, expected: list[int]
) -> None:
    extra: dict[str, Any] = {"CLAIMS_RATE_LIMIT_PER_MINUTE": "3"}
    if trusted is not None:
        extra["CLAIMS_TRUSTED_PROXIES"] = trusted
    server = Server(f"sqlite:///{tmp_path / 'proxies.db'}", tmp_path / "server.log", **extra)
    try:
        assert statuses(server) == expected
        assert httpx.get(server.base_url + "/healthz", timeout=5).status_code == 200
    finally:
        server.stop()
