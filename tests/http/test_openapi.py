"""The OpenAPI document is what SDK generators read: stable snake_case operation ids,
a tag on each operation, problem+json for every error, and an example on each body."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.helpers import make_source

# The contract's operations: (method, path) -> operationId.
CORE_OPERATIONS = {
    ("get", "/claims"): "list_claims",
    ("post", "/claims"): "create_claim",
    ("get", "/claims/{claim_id}"): "get_claim",
    ("patch", "/claims/{claim_id}"): "update_claim",
    ("delete", "/claims/{claim_id}"): "delete_claim",
    ("get", "/claims/{claim_id}/stances"): "list_claim_stances",
    ("post", "/claims/{claim_id}/stances"): "create_stance",
    ("get", "/claims/{claim_id}/stances/{stance_id}"): "get_stance",
    ("get", "/sources"): "list_sources",
    ("post", "/sources"): "create_source",
    ("get", "/sources/{source_id}"): "get_source",
    ("patch", "/sources/{source_id}"): "update_source",
    ("delete", "/sources/{source_id}"): "delete_source",
    ("get", "/sources/{source_id}/stances"): "list_source_stances",
    ("get", "/healthz"): "get_health",
}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
WRITES = {"post", "patch", "put", "delete"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Serving the document opens no database connection.
    path = tmp_path_factory.mktemp("openapi") / "unused.db"
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    try:
        schema: dict[str, Any] = app.openapi()
    finally:
        app.state.engine.dispose()
    assert not Path(path).exists()
    return schema


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_operation_ids_are_the_contracts_snake_case_names(document: dict[str, Any]) -> None:
    ops = operations(document)
    found = {key: op["operationId"] for key, op in ops.items()}
    assert {key: found.get(key) for key in CORE_OPERATIONS} == CORE_OPERATIONS
    assert [op_id for op_id in found.values() if not SNAKE_CASE.match(op_id)] == []
    assert len(set(found.values())) == len(found)


def test_every_operation_has_a_declared_tag(document: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in document["tags"] if tag.get("description")}
    untagged = {
        key: op.get("tags")
        for key, op in operations(document).items()
        if len(op.get("tags", [])) != 1 or op["tags"][0] not in declared
    }
    assert untagged == {}
    ops = operations(document)
    assert {ops[key]["tags"][0] for key in CORE_OPERATIONS} == {"claims", "sources", "health"}


def test_every_error_response_is_problem_json(document: dict[str, Any]) -> None:
    wrong = {
        (method, path, status): response.get("content")
        for (method, path), op in operations(document).items()
        for status, response in op["responses"].items()
        if status[0] in "45" and response.get("content") != PROBLEM
    }
    assert wrong == {}
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_errors_each_operation_can_give_are_declared(document: dict[str, Any]) -> None:
    missing = {}
    for (method, path), op in operations(document).items():
        if (method, path) not in CORE_OPERATIONS or path == "/healthz":
            continue
        expected = {"429", "503"}
        if method in WRITES:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in op or (method == "get" and "{" not in path.split("/")[-1]):
            expected.add("422")  # a bad body, or bad filters / limit / cursor of a list
        if "requestBody" in op:
            expected.add("413")
        if path.startswith("/sources") and method in {"post", "patch", "delete"}:
            expected.add("409")
        if not expected <= op["responses"].keys():
            missing[(method, path)] = sorted(expected - op["responses"].keys())
    assert missing == {}


def _example(document: dict[str, Any], body: dict[str, Any]) -> Any:
    # JSON for most operations; /bulk documents its NDJSON body under its own media type.
    media = body["content"].get("application/json") or next(iter(body["content"].values()))
    if "example" in media:
        return media["example"]
    if media.get("examples"):
        return next(iter(media["examples"].values()))["value"]
    schema = media["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    examples = schema.get("examples") or []
    return examples[0] if examples else None


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    without = [
        key
        for key, op in operations(document).items()
        if "requestBody" in op and not _example(document, op["requestBody"])
    ]
    assert without == []


def test_the_examples_are_accepted_by_the_api(
    client: TestClient, auth: dict[str, str], document: dict[str, Any]
) -> None:
    """An example an SDK user copies must work: post each core body as documented."""
    ops = operations(document)

    def example(method: str, path: str) -> Any:
        return _example(document, ops[(method, path)]["requestBody"])

    for n in range(1, 3):
        make_source(client, auth, f"Source {n}")
    source = client.post("/sources", headers=auth, json=example("post", "/sources"))
    assert source.status_code == 201, source.text
    claim = client.post("/claims", headers=auth, json=example("post", "/claims"))
    assert claim.status_code == 201, claim.text
    stance_example = example("post", "/claims/{claim_id}/stances")
    assert stance_example["source_id"] == source.json()["id"]
    stance = client.post(f"/claims/{claim.json()['id']}/stances", headers=auth, json=stance_example)
    assert stance.status_code == 201, stance.text
    patched = client.patch(
        f"/claims/{claim.json()['id']}",
        headers=auth,
        json=example("patch", "/claims/{claim_id}"),
    )
    assert patched.status_code == 200, patched.text
    renamed = client.patch(
        f"/sources/{source.json()['id']}",
        headers=auth,
        json=example("patch", "/sources/{source_id}"),
    )
    assert renamed.status_code == 200, renamed.text


SNAPSHOT = Path(__file__).parents[1] / "openapi.snapshot.json"


def test_the_document_matches_the_committed_snapshot(document: dict[str, Any]) -> None:
    # A change to the public surface is deliberate: regenerate the snapshot with
    # `python -m tests.openapi_snapshot` and review its diff.
    assert json.dumps(document, indent=2, sort_keys=True) + "\n" == SNAPSHOT.read_text()


def test_each_summary_reads_as_english(document: dict[str, Any]) -> None:
    summaries = {op["operationId"]: op["summary"] for op in operations(document).values()}
    assert {k: summaries[k] for k in ("list_changes", "import_claimreview", "import_bulk")} == {
        "list_changes": "List changes",
        "import_claimreview": "Import ClaimReview",
        "import_bulk": "Import in bulk",
    }
    for operation_id, summary in summaries.items():
        first, *rest = summary.split()
        assert first == first.capitalize(), (operation_id, summary)
        assert [w for w in rest if w != w.lower() and w != "ClaimReview"] == [], operation_id
        assert "route" not in summary.lower(), operation_id
