#!/usr/bin/env bash
# Builds the lbagent release tarball the Ansible role installs:
#   lbagent-VERSION/
#     dist/agent dist/cli        compiled JavaScript (no tests, no benches)
#     node_modules/              production dependencies only (native addons built for this Node ABI)
#     package.json package-lock.json
#     systemd/lbagent.service systemd/tmpfiles.d/lbagent.conf
#     iproute2/rt_protos.d/lbagent.conf   route protocol 199's name (ip route show proto lbagent)
#     bin/lbagent bin/lbctl      wrappers (exec node on dist/...; LBAGENT_NODE overrides the node binary)
#     examples/ docs/ BUILDINFO   BUILDINFO: version, git commit, node version and ABI, arch
#
#   scripts/package.sh [-o OUTDIR] [--no-build]
#
# OUTDIR defaults to dist/pkg (gitignored). --no-build packages the existing dist/ as is (for a
# tree where someone else's work in progress does not type-check); by default tsc must pass.
# Offline: production node_modules come from the checkout's node_modules via `npm prune`.
# Prints the tarball's path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

OUT="$REPO/dist/pkg"
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    -o) OUT="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { printf '[package] %s\n' "$*" >&2; }

VERSION="$(node -p 'require("./package.json").version')"
NAME="lbagent-$VERSION"
[ -d node_modules ] || { echo "package: no node_modules (run scripts/setup.sh or npm ci first)" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
  log "building (tsc)"
  npx --no-install tsc -p tsconfig.json
fi
for f in dist/agent/main.js dist/cli/lbctl.js; do
  [ -f "$f" ] || { echo "package: $f missing (build first)" >&2; exit 1; }
done

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/lbagent-pkg.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
DEST="$STAGE/$NAME"
mkdir -p "$DEST/dist" "$DEST/bin" "$DEST/systemd/tmpfiles.d" "$DEST/docs"

log "staging $NAME"
cp -a dist/agent dist/cli "$DEST/dist/"
cp package.json package-lock.json "$DEST/"
cp systemd/lbagent.service "$DEST/systemd/"
cp systemd/tmpfiles.d/lbagent.conf "$DEST/systemd/tmpfiles.d/"
mkdir -p "$DEST/iproute2/rt_protos.d" && cp agent/kernel/rt_protos.lbagent.conf "$DEST/iproute2/rt_protos.d/lbagent.conf"
[ -d examples ] && cp -a examples "$DEST/"
for doc in README.md LICENSE; do [ -f "$doc" ] && cp "$doc" "$DEST/"; done
for doc in docs/*.md docs/*.json; do [ -f "$doc" ] && cp "$doc" "$DEST/docs/"; done

# Production dependencies: copy what is installed (native addons already built) and prune dev deps.
cp -a node_modules "$DEST/"
(cd "$DEST" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >&2)
find "$DEST/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -delete # scopes left empty
for dev in typescript @biomejs/biome tsx fast-check esbuild; do
  [ ! -e "$DEST/node_modules/$dev/package.json" ] || { echo "package: dev dependency $dev survived the prune" >&2; exit 1; }
done

for bin in lbagent:agent/main.js lbctl:cli/lbctl.js; do
  name="${bin%%:*}"
  cat >"$DEST/bin/$name" <<EOF
#!/bin/sh
# $name from the lbagent $VERSION release. LBAGENT_NODE picks the node binary (Node 20+).
here="\$(dirname "\$(readlink -f "\$0")")"
exec "\${LBAGENT_NODE:-node}" "\$here/../dist/${bin#*:}" "\$@"
EOF
  chmod 0755 "$DEST/bin/$name"
done

{
  echo "version=$VERSION"
  echo "commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "node=$(node -p process.versions.node)"
  echo "node_abi=$(node -p process.versions.modules)"
  echo "arch=$(node -p process.arch)"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$DEST/BUILDINFO"

mkdir -p "$OUT"
TARBALL="$OUT/$NAME.tar.gz"
# Stable owner and order so the same tree gives the same file list.
tar -C "$STAGE" --owner=0 --group=0 --numeric-owner --sort=name -czf "$TARBALL.tmp" "$NAME"
mv "$TARBALL.tmp" "$TARBALL"
(cd "$OUT" && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256")
log "$(du -h "$TARBALL" | cut -f1) $TARBALL"
echo "$TARBALL"
