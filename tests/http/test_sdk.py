"""A Python client generated from /openapi.json drives a whole newsroom scenario.

openapi-python-client pins its own dependencies (typer<0.28, httpx<0.29) against ours, so it
lives in a venv of its own, made once and kept under .venv/tools/. The client it generates
needs only httpx, attrs and python-dateutil, which are dev dependencies: the test imports it
here and talks to the real server (`claims-api serve` on a loopback port), on each engine.
"""

import importlib
import json
import keyword
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.server import Server, write_key

GENERATOR = "openapi-python-client==0.29.1"
PACKAGE = "claims_api_client"
MAX_PAGES = 20


def _generator_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's own venv: cached beside ours, rebuilt when GENERATOR changes."""
    in_venv = sys.prefix != sys.base_prefix
    tools = Path(sys.prefix) / "tools" if in_venv else tmp_path_factory.mktemp("tools")
    home = tools / GENERATOR.replace("==", "-")
    stamp = home / ".installed"
    if stamp.exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    venv.create(home, with_pip=True)
    install = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", GENERATOR],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if install.returncode != 0:
        pytest.fail(f"could not install {GENERATOR}: {install.stdout}{install.stderr}")
    stamp.touch()
    return home


@pytest.fixture(scope="session")
def openapi_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """/openapi.json as the running server serves it."""
    directory = tmp_path_factory.mktemp("sdk-server")
    server = Server(f"sqlite:///{directory / 'claims.db'}", directory / "server.log")
    try:
        with server.client() as client:
            response = client.get("/openapi.json")
    finally:
        server.stop()
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="session")
def sdk(
    tmp_path_factory: pytest.TempPathFactory, openapi_document: dict[str, Any]
) -> Iterator[Path]:
    """The generated package's directory; `claims_api_client` is importable meanwhile."""
    home = _generator_venv(tmp_path_factory)
    work = tmp_path_factory.mktemp("sdk")
    (work / "openapi.json").write_text(json.dumps(openapi_document))
    # No post hooks: they would run ruff on the output, which is not what is tested here.
    # The generator does not know NDJSON (POST /bulk, GET /export): as docs/sdk.md says,
    # have it treat those bodies as bytes.
    (work / "config.yaml").write_text(
        "post_hooks: []\n"
        "content_type_overrides:\n"
        "  application/x-ndjson: application/octet-stream\n"
    )
    generated = subprocess.run(
        [
            str(home / "bin" / "openapi-python-client"),
            "generate",
            "--path=openapi.json",
            "--config=config.yaml",
            "--meta=none",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    # The generator warns about every schema or operation it could not turn into code.
    assert "Warning" not in output, output
    sys.path.insert(0, str(work))
    try:
        yield work / PACKAGE
    finally:
        sys.path.remove(str(work))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_generated_modules_are_named_after_the_operations(
    sdk: Path, openapi_document: dict[str, Any]
) -> None:
    operations = {
        (operation["tags"][0], operation["operationId"])
        for methods in openapi_document["paths"].values()
        for operation in methods.values()
    }
    generated = {
        (path.parent.name, path.stem)
        for path in (sdk / "api").glob("*/*.py")
        if path.stem != "__init__"
    }
    assert generated == operations
    for _tag, name in generated:
        assert re.fullmatch(
            r"(list|get|create|update|put|delete|rotate|redeliver|import|export|match)_[a-z_]+",
            name,
        )
    for expected in (
        "claims/list_claims.py",
        "claims/create_stance.py",
        "sources/create_source.py",
    ):
        assert (sdk / "api" / expected).is_file(), expected


def test_generated_models_are_typed_and_named_well(sdk: Path) -> None:
    models = _module("models")
    for name in ("ClaimPage", "ClaimDetail", "StancePublic", "SourcePublic", "Problem"):
        assert hasattr(models, name), name
    assert [member.name for member in models.ClaimSort] == [
        "NEWEST_CREATED",
        "NEWEST_UPDATED",
        "OLDEST_CREATED",
        "OLDEST_UPDATED",
        "RELEVANCE",
    ]
    enums = [models.ClaimStatus, models.StanceKind, models.SourceKind, models.ClaimSort]
    for enum in enums:
        for member in enum:
            assert member.name.isidentifier() and not keyword.iskeyword(member.name)
            assert not member.name.startswith("VALUE_"), (enum, member)
    # Errors parse into the typed Problem model, not a bare dict.
    get_claim = _module("api.claims.get_claim")
    assert "Problem" in str(get_claim.sync.__annotations__["return"])


def test_generated_client_drives_a_newsroom_scenario(
    sdk: Path, database_url: str, tmp_path: Path
) -> None:
    models = _module("models")
    client_module = _module("client")
    list_claims = _module("api.claims.list_claims")
    server = Server(database_url, tmp_path / "server.log", CLAIMS_WEBHOOK_SENDER="false")
    try:
        token = write_key(database_url)["Authorization"].removeprefix("Bearer ")
        with client_module.AuthenticatedClient(
            base_url=server.base_url, token=token, timeout=httpx.Timeout(10.0)
        ) as client:
            _scenario(client, models)
        # Reads are open by default: a plain Client (no key) reads too.
        with client_module.Client(base_url=server.base_url) as anonymous:
            page = list_claims.sync(client=anonymous, status=[models.ClaimStatus.DISPUTED])
            assert isinstance(page, models.ClaimPage)
            assert len(page.items) == 1
    finally:
        server.stop()


def _scenario(client: Any, models: ModuleType) -> None:
    """Sources of two camps and a state broadcaster, a claim they dispute, paging, errors."""
    create_source = _module("api.sources.create_source")
    create_claim = _module("api.claims.create_claim")
    create_stance = _module("api.claims.create_stance")
    list_claims = _module("api.claims.list_claims")
    get_claim = _module("api.claims.get_claim")
    kind = models.SourceKind
    opposition = create_source.sync(
        client=client,
        body=models.SourceCreate(
            name="Hayat Tahrir al-Sham", kind=kind.ARMED_GROUP, affiliation="Syrian opposition"
        ),
    )
    monitor = create_source.sync(
        client=client,
        body=models.SourceCreate(
            name="Independent monitor", kind=kind.MONITOR, affiliation="Independent"
        ),
    )
    state_media = create_source.sync(
        client=client,
        body=models.SourceCreate(
            name="Syrian state media", kind=kind.STATE_MEDIA, affiliation="Syrian government"
        ),
    )
    assert isinstance(state_media, models.SourcePublic)
    assert state_media.kind is kind.STATE_MEDIA

    claim = create_claim.sync(
        client=client,
        body=models.ClaimCreate(text="Insurgents entered the city of Hama.", place="Hama"),
    )
    assert isinstance(claim, models.ClaimDetail)
    assert claim.status is models.ClaimStatus.UNSOURCED
    others = [
        create_claim.sync(client=client, body=models.ClaimCreate(text=f"Claim number {n}."))
        for n in (2, 3)
    ]

    for source, stance in ((opposition, "ASSERTS"), (monitor, "ASSERTS"), (state_media, "DENIES")):
        created = create_stance.sync(
            claim_id=claim.id,
            client=client,
            body=models.StanceCreate(source_id=source.id, stance=models.StanceKind[stance]),
        )
        assert isinstance(created, models.StancePublic)
        assert (created.claim_id, created.source_id) == (claim.id, source.id)

    disputed = list_claims.sync(client=client, status=[models.ClaimStatus.DISPUTED])
    assert isinstance(disputed, models.ClaimPage)
    assert [c.id for c in disputed.items] == [claim.id]
    assert disputed.next_cursor is None

    seen: list[str] = []
    cursor = None
    for _ in range(MAX_PAGES):
        page = list_claims.sync(client=client, limit=1, cursor=cursor)
        assert isinstance(page, models.ClaimPage)
        assert len(page.items) == 1
        seen.append(page.items[0].id)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted([claim.id, *(c.id for c in others)])

    detail = get_claim.sync(claim_id=claim.id, client=client)
    assert isinstance(detail, models.ClaimDetail)
    assert detail.status is models.ClaimStatus.DISPUTED
    assert (detail.asserting_sources, detail.denying_sources) == (2, 1)
    assert {(s.source_id, s.stance) for s in detail.stances} == {
        (opposition.id, models.StanceKind.ASSERTS),
        (monitor.id, models.StanceKind.ASSERTS),
        (state_media.id, models.StanceKind.DENIES),
    }

    missing = get_claim.sync_detailed(claim_id="999999", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Problem)
    assert (missing.parsed.status, missing.parsed.type_) == (404, "/problems/not-found")

    invalid = list_claims.sync_detailed(client=client, limit=0)
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.Problem)
    assert [(e.location, e.field) for e in invalid.parsed.errors] == [("query", "limit")]
    assert isinstance(invalid.parsed.errors[0], models.FieldError)
