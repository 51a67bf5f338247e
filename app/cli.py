"""The `claims-api` command: serve, migrate, seed, keys."""

from typing import Annotated

import typer
import uvicorn

from app.auth import Scope, create_key
from app.config import get_settings
from app.db import make_engine
from app.migrate import upgrade
from app.seeds import load_seeds

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
    """Apply pending migrations, then serve the API."""
    _migrate()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


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
