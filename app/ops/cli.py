"""The `claims-api` command: serve, worker, migrate, seed, keys."""

import os
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
import uvicorn

from app.core.auth import Scope, create_key, list_keys, revoke_key
from app.core.config import get_settings
from app.core.db import make_engine
from app.ops.consistency import find_mismatches, repair_claim, repair_search_columns
from app.ops.logs import configure_logging
from app.ops.migrate import upgrade
from app.ops.seeds import load_seeds
from app.sync.bulk.cli import import_settings, open_input, run_import
from app.sync.bulk.importer import DEFAULT_BATCH_SIZE
from app.webhooks.sender import run_worker

app = typer.Typer(
    help="claims-api: track contested claims and who asserts or denies them.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click output: an error is an `Error: ...` line, not a box drawn for a terminal,
    # and a traceback (a bug) never prints local variables such as a database URL.
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)
keys = typer.Typer(help="Manage API keys.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(keys, name="keys")


def fail(message: str) -> NoReturn:
    """Refuse what the command was given: one `Error: ...` line on stderr and exit 2, as
    for the usage errors the argument parser reports."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def _migrate() -> None:
    engine = make_engine(get_settings())
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Apply pending migrations, then serve the API (and send webhooks, unless
    CLAIMS_WEBHOOK_SENDER=false)."""
    # Set before the settings are first read, so that uvicorn's worker processes see it too.
    os.environ.setdefault("CLAIMS_WEBHOOK_SENDER", "true")
    _migrate()
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # h11 with the bounds httptools lacks (header size, header time, connections) and
        # problem+json for what it refuses; by import path, as uvicorn's worker processes
        # load it (app/http/protocol.py).
        http="app.http.protocol:BoundedH11Protocol",
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_seconds,
        # The client address (rate limits, logs) comes from X-Forwarded-For only when the
        # peer is a proxy the operator named: any other peer could claim to be anyone.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Deliveries in flight at once [CLAIMS_WEBHOOK_CONCURRENCY].")
    ] = None,
) -> None:
    """Send webhook deliveries until SIGTERM, apart from `serve`: run any number of them
    (and `serve` with CLAIMS_WEBHOOK_SENDER=false) for larger deployments."""
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"webhook_concurrency": concurrency})
    configure_logging(settings.log_level)
    engine = make_engine(settings)
    try:
        run_worker(engine, settings)
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """Apply pending migrations."""
    _migrate()
    typer.echo("database is at the latest migration")


@app.command()
def seed() -> None:
    """Load the sources, claims and stances in seeds/ (safe to run again)."""
    _migrate()
    engine = make_engine(get_settings())
    try:
        counts = load_seeds(engine=engine, seeds_dir=get_settings().seeds_dir)
    finally:
        engine.dispose()
    # "1 report added", "0 reports added": the counts are keyed by the plural.
    typer.echo(
        ", ".join(f"{n} {what if n != 1 else what[:-1]} added" for what, n in counts.items())
    )


@app.command("import")
def import_(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="A claims-api NDJSON file, or - for stdin.")
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Records per transaction.")
    ] = DEFAULT_BATCH_SIZE,
    progress_seconds: Annotated[
        float,
        typer.Option(min=0, help="Seconds between progress lines when stderr is not a terminal."),
    ] = 5.0,
) -> None:
    """Load sources, claims and stances from claims-api NDJSON (docs/bulk.md), a batch per
    transaction, with a progress bar (progress lines on stderr when it is not a terminal).
    Exits 1 on a bad line, naming it, and 2 on a file it cannot read."""
    try:
        stream, total = open_input(file)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    _migrate()
    engine = make_engine(import_settings(get_settings()))
    try:
        code = run_import(
            engine=engine,
            stream=stream,
            total=total,
            batch_size=batch_size,
            progress_seconds=progress_seconds,
        )
    finally:
        engine.dispose()
    raise typer.Exit(code)


@app.command()
def check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what disagrees.")] = False,
) -> None:
    """Recompute every claim's status, counts, current stances, status periods and search
    column from its stances and the reports they cite.

    Exits 1 when a mismatch is found (and not repaired), so it can gate a deploy or a cron.
    """
    engine = make_engine(get_settings())
    try:
        mismatches = list(find_mismatches(engine=engine))
        for mismatch in mismatches:
            typer.echo(mismatch.describe())
            if repair and not mismatch.only_search_text:
                repair_claim(engine=engine, claim_id=mismatch.claim_id)
        if repair:
            searched = [m.claim_id for m in mismatches if m.only_search_text]
            repair_search_columns(engine=engine, claim_ids=searched)
        if repair and mismatches:
            mismatches = list(find_mismatches(engine=engine))
    finally:
        engine.dispose()
    verdict = "repaired" if repair else "found"
    typer.echo(
        f"{len(mismatches)} mismatch(es) remain"
        if repair
        else f"{len(mismatches)} mismatch(es) {verdict}"
    )
    raise typer.Exit(1 if mismatches else 0)


@keys.command("create")
def keys_create(
    scope: Annotated[Scope, typer.Option(help="What the key may do.")] = Scope.write,
    name: Annotated[str | None, typer.Option(help="Who or what holds it.")] = None,
) -> None:
    """Mint an API key; it is printed once, alone on the last line, and stored only as a hash."""
    engine = make_engine(get_settings())
    try:
        upgrade(engine)
        key = create_key(engine=engine, scope=scope, name=name)
    finally:
        engine.dispose()
    typer.echo(
        f"Created a '{scope}' key{f' for {name}' if name else ''}. Store it now; "
        "it cannot be shown again:",
        err=True,
    )
    typer.echo(key)


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="The key's ID, as `keys list` shows it (its PREFIX, or the key itself, also do).",
        ),
    ],
) -> None:
    """Revoke a key: it answers 401 from then on."""
    engine = make_engine(get_settings())
    try:
        upgrade(engine)
        revoked = revoke_key(engine=engine, key_or_prefix=key_id)
    finally:
        engine.dispose()
    if revoked == 0:
        fail(f"no active key has ID or prefix {key_id!r}")
    typer.echo(f"revoked {revoked} key(s)")


KEY_COLUMNS = ("ID", "PREFIX", "SCOPE", "NAME", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT")


def _rfc3339(value: datetime | None) -> str:
    # As the API writes datetimes: UTC with a Z.
    return "-" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@keys.command("list")
def keys_list() -> None:
    """List keys, oldest first, as a table: ID, PREFIX, SCOPE, NAME, CREATED_AT, LAST_USED_AT,
    REVOKED_AT (RFC 3339, UTC). Never the key itself."""
    engine = make_engine(get_settings())
    try:
        upgrade(engine)
        rows = [
            (
                str(key.id),
                key.prefix,
                key.scopes,
                key.name or "-",
                _rfc3339(key.created_at),
                _rfc3339(key.last_used_at),
                _rfc3339(key.revoked_at),
            )
            for key in list_keys(engine=engine)
        ]
    finally:
        engine.dispose()
    widths = [max(len(row[i]) for row in [KEY_COLUMNS, *rows]) for i in range(len(KEY_COLUMNS))]
    for row in [KEY_COLUMNS, *rows]:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
