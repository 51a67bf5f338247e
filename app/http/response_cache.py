"""Open reads answered from memory while what they show has not changed.

Newsroom integrations poll the same few reads (`GET /claims?status=disputed`, a claim, its
stances) far more often than anything changes, and a desk writes stances all morning. Each
request first reads the change log (app/http/change_log.py: the claims every commit since
the last look changed, kept by triggers) and drops the answers those changes can affect:

- a read of one claim (`/claims/{id}`, its stances, timeline, verdict) goes when that claim
  changes;
- a page of `GET /claims` that declares its extent (PageExtent: the span of the list's order
  it covers and the claims on it) goes when a claim on it changes, or a changed claim now
  sorts into its span: whatever the filters, nothing else can change a keyset page;
- every other read (ranked search, CSV, sources, /changes) goes when anything changes;
- everything goes when a source or a report changes, or the log has lost its place;
- a route whose answer depends on more than the data keeps it out (keep_out_of_cache: the
  feed on PostgreSQL, which stops short of the cluster's running transactions).

So no request gets an answer older than its own arrival, and no write path can forget to
invalidate: the database records every change, whoever makes it. An answer is kept only if
no change was applied while it was computed. Reads that need a key
(CLAIMS_REQUIRE_KEY_FOR_READS) are never cached: each must authenticate. The log read is
bounded; when it fails or is slow the request simply goes to the routes.
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.cache_key import cache_key, claim_of
from app.http.change_log import ChangeLog, Changes, ClaimKeys
from app.http.conditional import none_match

# The open reads: every GET under these is guarded by read_guard and nothing else.
CACHED_PREFIXES = ("/claims", "/sources", "/changes")
# What an entry costs beyond its bytes: the dict slot, the tuples, the bytes objects' headers.
ENTRY_OVERHEAD = 512
# Past this many page-by-claim checks for one change, every page goes: ~10 ms of the loop.
MAX_PAGE_CHECKS = 20_000


# Where a route leaves its page's extent for the cache, in the request's state.
EXTENT_STATE = "claims_page_extent"
# Set there by a route whose answer depends on more than the data (keep_out_of_cache).
UNCACHEABLE_STATE = "claims_uncacheable"


@dataclass(frozen=True)
class PageExtent:
    """Where a keyset page of claims lies in its list's order: after `after` (the cursor's
    place; None at the start), up to `last` (the place of the first claim after the page,
    whose existence gives it a next cursor; None when there is none), places being
    (sort key, id). A claim that is not among `claims` (the page's and that first one after
    it) and now sorts outside that span cannot change it, whatever the filters: the page is
    the first `limit` matches after `after` and whether one more follows, none of which
    changed."""

    field: str  # the ClaimKeys field the list sorts by
    descending: bool
    after: tuple[datetime, int] | None
    last: tuple[datetime, int] | None
    claims: frozenset[int]

    def changed_by(self, claim: int, keys: ClaimKeys | None) -> bool:
        if claim in self.claims:
            return True
        if keys is None:  # deleted, and not on the page
            return False
        place = (getattr(keys, self.field), claim)
        if self.descending:
            return (self.after is None or place < self.after) and (
                self.last is None or place >= self.last
            )
        return (self.after is None or place > self.after) and (
            self.last is None or place <= self.last
        )


def declare_extent(request: Request, extent: PageExtent) -> None:
    """Tell the cache what can change this page (a route that does not, is dropped on any
    change)."""
    request.scope.setdefault("state", {})[EXTENT_STATE] = extent


def keep_out_of_cache(request: Request) -> None:
    """Tell the cache not to keep this answer: it depends on more than the data (no change
    to the data would drop it)."""
    request.scope.setdefault("state", {})[UNCACHEABLE_STATE] = True


@dataclass(frozen=True)
class CachedAnswer:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str | None
    claim: int | None  # the claim it shows alone
    extent: PageExtent | None  # or the span of a list it shows; neither: dropped on any change


def entry_size(key: tuple[bytes, ...], answer: CachedAnswer) -> int:
    """What one entry holds: its key as well as its answer, counted against the bound."""
    return (
        ENTRY_OVERHEAD
        + sum(len(part) for part in key)
        + len(answer.body)
        + sum(len(n) + len(v) for n, v in answer.headers)
    )


class ResponseCache:
    """Pure ASGI, innermost but for the routes: rate limits, CORS, request ids and the access
    log still apply to every answer, cached or not. Holds at most `max_bytes` of answers,
    least recently used out first; an answer over an eighth of that is not kept."""

    def __init__(self, app: ASGIApp, *, log: ChangeLog, max_bytes: int) -> None:
        self.app = app
        self.log = log
        self.max_bytes = max_bytes
        self._answers: OrderedDict[tuple[bytes, ...], CachedAnswer] = OrderedDict()
        self._of_claim: dict[int, set[tuple[bytes, ...]]] = {}  # keys of one claim's reads
        self._pages: dict[tuple[bytes, ...], PageExtent] = {}  # keys of pages with an extent
        self._shared: set[tuple[bytes, ...]] = set()  # keys of every other read
        self._bytes = 0
        self._applied = 0  # the number of the last log read applied
        self._drops = 0  # changes applied so far: an answer computed across one is not kept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        changes = await self.log.read()
        if changes is None:
            await self.app(scope, receive, send)
            return
        self._apply(changes)
        headers = Headers(scope=scope)
        key = cache_key(scope, headers)
        if key is None:
            await self.app(scope, receive, send)
            return
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
            await self._replay(answer, headers.get("if-none-match"), send)
            return
        await self._compute(scope, receive, send, key, claim_of(scope["path"]))

    def _cacheable(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(CACHED_PREFIXES)
            and not scope["app"].state.settings.require_key_for_reads
        )

    def _apply(self, changes: Changes) -> None:
        if changes.number <= self._applied:
            return  # a read shared by a burst, applied by an earlier request of it
        if changes.number != self._applied + 1 or changes.everything:
            self._drops += 1
            self._clear()
        elif changes.claims:
            self._drops += 1
            self._drop_reached_by(changes.claims)
        # Last: were a drop to fail, the next read would count as missed and empty it all.
        self._applied = changes.number

    def _clear(self) -> None:
        self._answers.clear()
        self._of_claim.clear()
        self._pages.clear()
        self._shared.clear()
        self._bytes = 0

    def _drop_reached_by(self, claims: Mapping[int, ClaimKeys | None]) -> None:
        for key in list(self._shared):
            self._drop(key)
        changed = claims.items()
        # Each check is a set look-up and two tuple comparisons (~0.5 us), on the loop.
        sort_out = len(self._pages) * len(changed) <= MAX_PAGE_CHECKS
        for key, extent in list(self._pages.items()):
            if not sort_out or any(extent.changed_by(c, keys) for c, keys in changed):
                self._drop(key)
        for claim in claims:
            for key in list(self._of_claim.get(claim, ())):
                self._drop(key)

    async def _replay(self, answer: CachedAnswer, if_none_match: str | None, send: Send) -> None:
        # As app/http/conditional.py `respond` answers: 304 with the ETag when the client has it.
        if answer.etag is not None and not none_match(if_none_match, answer.etag):
            etag = answer.etag.encode("latin-1")
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _compute(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[bytes, ...], claim: int | None
    ) -> None:
        """Run the routes, passing the answer on as it comes, and keep a copy of a 200."""
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = sum(len(part) for part in key)  # a long query string counts too
        keep = True
        drops = self._drops
        state = scope.setdefault("state", {})  # shared with the routes, which may fill it

        async def copying_send(message: Message) -> None:
            nonlocal size, keep
            if message["type"] == "http.response.start":
                keep = message["status"] == 200
                headers.extend((bytes(n), bytes(v)) for n, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and keep:
                body = message.get("body", b"")
                size += len(body)
                keep = size <= self.max_bytes // 8
                chunks.append(body)
                # A change applied meanwhile may postdate what the routes read: not kept.
                if (
                    keep
                    and not message.get("more_body", False)
                    and drops == self._drops
                    and not state.get(UNCACHEABLE_STATE)
                ):
                    extent = state.get(EXTENT_STATE)
                    body = b"".join(chunks)
                    self._store(key, CachedAnswer(headers, body, _etag(headers), claim, extent))
            await send(message)

        await self.app(scope, receive, copying_send)

    def _store(self, key: tuple[bytes, ...], answer: CachedAnswer) -> None:
        if key in self._answers:
            self._drop(key)
        self._answers[key] = answer
        self._bytes += entry_size(key, answer)
        if answer.claim is not None:
            self._of_claim.setdefault(answer.claim, set()).add(key)
        elif answer.extent is not None:
            self._pages[key] = answer.extent
        else:
            self._shared.add(key)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._answers)))

    def _drop(self, key: tuple[bytes, ...]) -> None:
        answer = self._answers.pop(key)
        self._bytes -= entry_size(key, answer)
        if answer.claim is not None:
            keys = self._of_claim[answer.claim]
            keys.discard(key)
            if not keys:
                del self._of_claim[answer.claim]
        elif answer.extent is not None:
            del self._pages[key]
        else:
            self._shared.discard(key)


def _etag(headers: list[tuple[bytes, bytes]]) -> str | None:
    return next((v.decode("latin-1") for n, v in headers if n.lower() == b"etag"), None)
