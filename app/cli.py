"""The `claims-api` command: serve, worker, migrate, seed, keys."""

import os
from typing import Annotated

import typer
import uvicorn

from app.auth import Scope, create_key, list_keys, revoke_key
from app.bulk import DEFAULT_BATCH_SIZE
from app.bulk_cli import import_settings, run_import
from app.config import get_settings
from app.consistency import find_mismatches, repair_claim
from app.db import make_engine
from app.logs import configure_logging
from app.migrate import upgrade
from app.seeds import load_seeds
from app.webhooks.sender import run_worker

app = typer.Typer(
    help="claims-api: track contested claims and who asserts or denies them.",
    no_args_is_help=True,
    add_completion=False,
)
keys = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")


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
        # h11 with the bounds httptools lacks: header size, header time, connections.
        http="app.server_protocol:BoundedH11Protocol",
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
    typer.echo(", ".join(f"{n} {what} added" for what, n in counts.items()))


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="A claims-api NDJSON file, or - for stdin.")],
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Records per transaction.")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Load sources, claims and stances from claims-api NDJSON (docs/bulk.md), a batch per
    transaction, with a progress bar. Exits 1 on a bad line, naming it."""
    _migrate()
    engine = make_engine(import_settings(get_settings()))
    try:
        code = run_import(engine=engine, path=file, batch_size=batch_size)
    finally:
        engine.dispose()
    raise typer.Exit(code)


@app.command()
def check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what disagrees.")] = False,
) -> None:
    """Recompute every claim's status, counts and current stances from its stances.

    Exits 1 when a mismatch is found (and not repaired), so it can gate a deploy or a cron.
    """
    engine = make_engine(get_settings())
    try:
        mismatches = list(find_mismatches(engine=engine))
        for mismatch in mismatches:
            typer.echo(mismatch.describe())
            if repair:
                repair_claim(engine=engine, claim_id=mismatch.claim_id)
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
    prefix: Annotated[
        str,
        typer.Argument(
            help="The key itself, or the first 10 characters of it, as `keys list` shows."
        ),
    ],
) -> None:
    """Revoke a key: it answers 401 from then on."""
    engine = make_engine(get_settings())
    try:
        revoked = revoke_key(engine=engine, key_or_prefix=prefix)
    finally:
        engine.dispose()
    if revoked == 0:
        typer.echo("no active key matches", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {revoked} key(s)")


@keys.command("list")
def keys_list() -> None:
    """List keys: prefix, scope, name, created, last used, revoked. Never the key itself."""
    engine = make_engine(get_settings())
    try:
        for key in list_keys(engine=engine):
            typer.echo(
                "\t".join(
                    str(v) if v is not None else "-"
                    for v in (
                        key.prefix,
                        key.scopes,
                        key.name,
                        key.created_at,
                        key.last_used_at,
                        key.revoked_at,
                    )
                )
            )
    finally:
        engine.dispose()
