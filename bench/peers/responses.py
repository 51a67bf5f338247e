"""The precomputed answers the minimal peers serve: the service's own response bytes for
each scenario URL, captured by the runner into the file named by BENCH_RESPONSES."""

import json
import os


def load_responses() -> dict[str, bytes]:
    with open(os.environ["BENCH_RESPONSES"], encoding="utf-8") as f:
        return {url: body.encode() for url, body in json.load(f).items()}


def key(path: str, query: bytes) -> str:
    return path + ("?" + query.decode("latin-1") if query else "")
