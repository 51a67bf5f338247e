"""Fixtures of the search tests."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.ops.seeds import load_seeds
from tests.search.seeded import SEEDS


@pytest.fixture
def seeded(app: FastAPI, client: TestClient) -> dict[str, str]:
    """The seeded claims: text -> id."""
    load_seeds(engine=app.state.engine, seeds_dir=SEEDS)
    claims = client.get("/claims", params={"limit": 100}).json()["items"]
    return {claim["text"]: claim["id"] for claim in claims}
