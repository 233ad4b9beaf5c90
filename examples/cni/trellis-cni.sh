#!/bin/sh
# A trellis-cni executable for runtimes that look plugins up by name in their CNI
# plugin directories: copy (or link) this as <dir>/trellis-cni. TRELLIS_HOME points at
# an installed Trellis (with dist/ built); the plugin's own path is dist/cni/main.js.
exec node "${TRELLIS_HOME:-/opt/trellis}/dist/cni/main.js"
