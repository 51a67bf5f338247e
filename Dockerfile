# claims-api: slim image, non-root, migrations applied by `serve` before it listens.
# Two stages: the first builds a virtualenv from uv.lock (every version pinned, every file
# checked against its hash) with the package installed normally, not editable; the second
# copies that venv and the project's data files, and nothing of the build.
FROM python:3.12-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# The same uv as the Makefile's UV_VERSION.
RUN pip install 'uv==0.13.9'
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project --no-editable --python /usr/local/bin/python3
COPY app ./app
RUN uv sync --locked --no-editable --python /usr/local/bin/python3

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CLAIMS_DATABASE_URL=sqlite:////data/claims.db \
    CLAIMS_MIGRATIONS_DIR=/srv/claims-api/migrations \
    CLAIMS_SEEDS_DIR=/srv/claims-api/seeds

COPY --from=build /opt/venv /opt/venv
# The installed package has no checkout around it: the migrations `serve` applies and the
# seeds `seed` loads live here, where the two variables above point.
WORKDIR /srv/claims-api
COPY migrations ./migrations
COPY seeds ./seeds
RUN useradd --system --uid 10001 --home-dir /srv/claims-api claims \
    && mkdir -p /data && chown claims /data

USER claims
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"

# `serve` applies pending migrations first, then listens.
CMD ["claims-api", "serve", "--host", "0.0.0.0", "--port", "8000"]
