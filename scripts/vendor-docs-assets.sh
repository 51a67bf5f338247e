#!/usr/bin/env bash
# Refresh app/http/static/docs/ (Swagger UI and Redoc, served by /docs and /redoc) from the npm
# registry: `npm pack` fetches the published tarballs and checks their integrity. Bump a
# version below, run this, look at the diff, run tests/http/test_docs_offline.py, commit.
set -euo pipefail

SWAGGER_UI_DIST=5.35.0
# Redoc 3 is a rewrite that loads icons from a CDN and reports telemetry: stay on 2.x.
REDOC=2.5.4

cd "$(dirname "$0")/.."
dest=app/http/static/docs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI_DIST" "redoc@$REDOC" >/dev/null)
mkdir -p "$work/swagger-ui" "$work/redoc"
tar -xzf "$work/swagger-ui-dist-$SWAGGER_UI_DIST.tgz" -C "$work/swagger-ui" --strip-components=1
tar -xzf "$work/redoc-$REDOC.tgz" -C "$work/redoc" --strip-components=1

rm -rf "$dest"
mkdir -p "$dest/swagger-ui" "$dest/redoc"
for file in LICENSE NOTICE swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
    favicon-32x32.png; do
    cp "$work/swagger-ui/$file" "$dest/swagger-ui/$file"
done
cp "$work/redoc/LICENSE" "$dest/redoc/LICENSE"
cp "$work/redoc/bundles/redoc.standalone.js" "$work/redoc/bundles/redoc.standalone.js.LICENSE.txt" \
    "$dest/redoc/"

# Source maps are not shipped: drop the comments that would make devtools ask for them.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/swagger-ui/swagger-ui-bundle.js" \
    "$dest/redoc/redoc.standalone.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$dest/swagger-ui/swagger-ui.css"
# Redoc's sidebar credit loads its logo from a CDN; an empty src makes it hide itself.
logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
grep -q "$logo" "$dest/redoc/redoc.standalone.js"
sed -i "s#$logo#\"\"#" "$dest/redoc/redoc.standalone.js"

cat >"$dest/VERSIONS" <<VERSIONS
# Written by scripts/vendor-docs-assets.sh; do not edit by hand.
swagger-ui-dist $SWAGGER_UI_DIST (Apache-2.0, npm) -> swagger-ui/
redoc $REDOC (MIT, npm) -> redoc/ (CDN logo URL removed from redoc.standalone.js)
VERSIONS
ls -l "$dest"/*
