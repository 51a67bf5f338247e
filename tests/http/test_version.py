"""One version: pyproject.toml's, as the installed package reports it, is the one /docs shows."""

import importlib.metadata
import tomllib
from pathlib import Path

from app.core.config import Settings
from app.main import create_app

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_openapi_document_carries_the_package_version(tmp_path: Path) -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    try:
        assert importlib.metadata.version("claims-api") == declared
        assert app.openapi()["info"]["version"] == declared
    finally:
        app.state.engine.dispose()
