"""The package installed normally (a wheel, not editable), as the Dockerfile installs it:
from uv.lock, into a venv of its own, run from a folder that is not the checkout. It
finds its migrations and seeds only through CLAIMS_MIGRATIONS_DIR and CLAIMS_SEEDS_DIR.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import run_ok

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    return run_ok([str(a) for a in args], cwd, env, timeout=600).stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a venv holding the lock's runtime packages and the built wheel."""
    if not UV.exists():
        pytest.fail("uv is not in the venv: run `make install`")
    work = tmp_path_factory.mktemp("installed")
    # The Dockerfile's steps: the lock's runtime dependencies (hashes checked), then the
    # project itself, not editable.
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(work / "venv"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    python = f"--python={sys.executable}"
    run(UV, "sync", "--locked", "--no-editable", "--quiet", python, cwd=source, env=env)
    return work / "venv" / "bin"


def test_an_installed_wheel_migrates_and_seeds_from_the_configured_folders(
    installed: Path, tmp_path: Path
) -> None:
    data = tmp_path / "srv"
    shutil.copytree(ROOT / "migrations", data / "migrations")
    shutil.copytree(ROOT / "seeds", data / "seeds")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
    env.update(
        CLAIMS_DATABASE_URL=f"sqlite:///{tmp_path / 'claims.db'}",
        CLAIMS_MIGRATIONS_DIR=str(data / "migrations"),
        CLAIMS_SEEDS_DIR=str(data / "seeds"),
    )
    # Not editable: the code is the venv's copy, with no checkout beside it.
    where = run(installed / "python", "-c", "import app; print(app.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed.parent)
    seeded = run(installed / "claims-api", "seed", cwd=tmp_path, env=env)
    assert seeded == "5 sources added, 1 report added, 19 claims added, 24 stances added\n"
