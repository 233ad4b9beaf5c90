#!/usr/bin/env bash
# What `npm run lab` runs before the lab itself, skipped when nothing it depends on
# changed since the last time it succeeded (stamps compared by mtime):
#   install  .ci/install (packages, npm ci): again when .ci/install or package-lock.json is newer
#   build    npm run build: again when anything under src/, a tsconfig or package.json is newer
# TRELLIS_LAB_FORCE=1 runs both whatever the stamps say.
set -euo pipefail
cd "$(dirname "$0")/../.."
stale() { # stamp, inputs...: true when the stamp is missing or an input is newer
  local stamp=$1; shift
  [ -n "${TRELLIS_LAB_FORCE:-}" ] || [ ! -e "$stamp" ] || [ -n "$(find "$@" -newer "$stamp" -print -quit 2>/dev/null)" ]
}
case "${1:-}" in
  install)
    stamp=.lab/.installed
    if stale "$stamp" .ci/install package-lock.json; then
      bash .ci/install
      mkdir -p .lab && touch "$stamp"
    fi ;;
  build)
    stamp=dist/.built
    if stale "$stamp" src tsconfig.json tsconfig.build.json package.json; then
      # The stamp is taken before the build starts: a source saved during it triggers the next.
      t=$(mktemp)
      npm run --silent build
      mkdir -p dist && mv "$t" "$stamp"
    fi ;;
  *) echo "usage: prep.sh install|build" >&2; exit 2 ;;
esac
