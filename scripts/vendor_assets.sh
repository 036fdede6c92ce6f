#!/usr/bin/env bash
# Refresh the vendored Swagger UI served at /api/mp/v1/static/swagger-ui/ (no CDN at runtime).
#
# flask-smorest's swagger_ui.html loads swagger-ui.css, swagger-ui-bundle.js and
# swagger-ui-standalone-preset.js from OPENAPI_SWAGGER_UI_URL; we copy exactly those plus the
# licence notices (the bundles' headers point at their *.LICENSE.txt); source maps are left out. Bump VERSION, run, review, commit.
set -euo pipefail

VERSION="${SWAGGER_UI_VERSION:-5.35.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/miniprogram_api/static/swagger-ui"
FILES=(swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js
       LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt swagger-ui-standalone-preset.js.LICENSE.txt)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetching swagger-ui-dist@$VERSION from the npm registry"
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null)
tar -xzf "$work"/swagger-ui-dist-*.tgz -C "$work"

rm -rf "$DEST"
mkdir -p "$DEST"
for f in "${FILES[@]}"; do
  cp "$work/package/$f" "$DEST/$f"
done
# Source maps are not shipped: drop the trailing sourceMappingURL comments so browsers don't 404.
sed -i -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' \
  "$DEST/swagger-ui-bundle.js" "$DEST/swagger-ui-standalone-preset.js" "$DEST/swagger-ui.css"
printf 'swagger-ui-dist %s (npm), copied by scripts/vendor_assets.sh\n' "$VERSION" >"$DEST/VERSION"

echo "vendored into ${DEST#"$ROOT"/}:"
ls -l "$DEST"
