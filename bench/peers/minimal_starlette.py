"""The ceiling, Starlette edition: the same routes, answering precomputed bytes."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.peers.responses import key, load_responses

RESPONSES = load_responses()


async def answer(request: Request) -> Response:
    body = RESPONSES.get(key(request.url.path, request.scope["query_string"]))
    if body is None:
        return Response(status_code=404)
    return Response(content=body, media_type="application/json")


app = Starlette(
    routes=[
        Route("/claims", answer),
        Route("/claims/{claim_id}", answer),
        Route("/claims/{claim_id}/timeline", answer),
    ]
)
