# claims-api: slim image, non-root, migrations applied by `serve` before it listens.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLAIMS_DATABASE_URL=sqlite:////data/claims.db

WORKDIR /srv/claims-api
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seeds ./seeds
# Editable install keeps migrations/ and seeds/ beside the code, where `serve` and `seed` find them.
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /srv/claims-api claims \
    && mkdir -p /data && chown claims /data

USER claims
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"

# `serve` applies pending migrations first, then listens.
CMD ["claims-api", "serve", "--host", "0.0.0.0", "--port", "8000"]
