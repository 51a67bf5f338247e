"""The ceiling, FastAPI edition: the same routes, answering precomputed bytes."""

from fastapi import FastAPI, Request, Response

from bench.peers.responses import key, load_responses

RESPONSES = load_responses()
app = FastAPI()


def _answer(request: Request) -> Response:
    body = RESPONSES.get(key(request.url.path, request.scope["query_string"]))
    if body is None:
        return Response(status_code=404)
    return Response(content=body, media_type="application/json")


@app.get("/claims")
def list_claims(request: Request) -> Response:
    return _answer(request)


@app.get("/claims/{claim_id}")
def get_claim(claim_id: str, request: Request) -> Response:
    return _answer(request)


@app.get("/claims/{claim_id}/timeline")
def get_timeline(claim_id: str, request: Request) -> Response:
    return _answer(request)
