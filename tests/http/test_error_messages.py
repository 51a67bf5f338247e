"""Errors a newcomer meets first say what is wrong and where, in the one problem+json shape."""

from fastapi.testclient import TestClient

from tests.helpers import problem

JSON = {"Content-Type": "application/json"}


def test_malformed_json_names_the_line_and_column_not_a_number_as_a_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = b'{"text": "Hama",\n  "place" "Hama"}'
    response = client.post("/claims", headers={**auth, **JSON}, content=body)
    assert problem(response, 422) == {
        "type": "/problems/validation-error",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "Invalid request: body: not valid JSON: "
        "Expecting ':' delimiter at line 2, column 11",
        "instance": "/claims",
        "errors": [
            {
                "location": "body",
                "field": "body",
                "message": "not valid JSON: Expecting ':' delimiter at line 2, column 11",
                "code": "json_invalid",
            }
        ],
    }


def test_a_body_that_is_not_utf8_says_so(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/claims", headers={**auth, **JSON}, content=b'{"text": "\xff\xfe"}')
    assert problem(response, 400) == {
        "type": "/problems/bad-request",
        "title": "Bad Request",
        "status": 400,
        "detail": "The body is not valid UTF-8 (byte 0xff at offset 10); "
        "JSON bodies must be UTF-8.",
        "instance": "/claims",
    }


def test_413_and_415_carry_instance_like_every_other_error(
    client: TestClient, auth: dict[str, str]
) -> None:
    too_large = client.post(
        "/claims", headers={**auth, **JSON}, content=b'{"text": "' + b"x" * 2_000_000 + b'"}'
    )
    assert problem(too_large, 413)["instance"] == "/claims"
    wrong_type = client.post(
        "/sources", headers={**auth, "Content-Type": "text/plain"}, content=b"name=x"
    )
    assert problem(wrong_type, 415)["instance"] == "/sources"


def test_json_nested_too_deeply_to_read_says_so(client: TestClient, auth: dict[str, str]) -> None:
    deep = b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = client.post("/claims", headers={**auth, **JSON}, content=deep)
    assert problem(response, 400)["detail"] == "The JSON body is nested too deeply to read."
