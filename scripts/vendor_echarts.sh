#!/usr/bin/env bash
# Refresh the vendored ECharts served at /admin/static/vendor/echarts/ (no CDN at runtime).
#
# Copies dist/echarts.min.js plus the licence notices from the npm package. Bump VERSION, run,
# review, commit. Charts are drawn by admin_ui/static/charts.js (the `chart` macro in _macros.html).
set -euo pipefail

VERSION="${ECHARTS_VERSION:-5.6.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/admin_ui/static/vendor/echarts"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetching echarts@$VERSION from the npm registry"
(cd "$work" && npm pack --silent "echarts@$VERSION" >/dev/null)
tar -xzf "$work"/echarts-*.tgz -C "$work"

rm -rf "$DEST"
mkdir -p "$DEST"
cp "$work/package/dist/echarts.min.js" "$work/package/LICENSE" "$work/package/NOTICE" "$DEST/"
printf 'echarts %s (npm), dist/echarts.min.js, copied by scripts/vendor_echarts.sh\n' "$VERSION" >"$DEST/VERSION"

echo "vendored into ${DEST#"$ROOT"/}:"
ls -l "$DEST"
