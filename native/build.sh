#!/usr/bin/env sh
# Builds the Node-API helpers (native/tcp-md5: TCP-MD5 keys on BGP sockets; native/rtnetlink:
# batched route writes) into native/<dir>/build/<name>.node with the C compiler and the
# Node-API headers that ship with Node (…/include/node), no node-gyp: each is one C file
# using only the stable Node-API, so the binaries keep working across Node versions.
set -eu
cd "$(dirname "$0")"
node_prefix=$(dirname "$(dirname "$(command -v node)")")
inc=""
for d in "$node_prefix/include/node" /usr/include/node /usr/local/include/node; do
  [ -f "$d/node_api.h" ] && { inc="$d"; break; }
done
[ -n "$inc" ] || { echo "native: node_api.h not found (looked under $node_prefix/include/node, /usr/include/node)" >&2; exit 1; }
cc=${CC:-cc}
build() { # dir name
  mkdir -p "$1/build"
  if [ ! -f "$1/build/$2.node" ] || [ "$1/$2.c" -nt "$1/build/$2.node" ]; then
    "$cc" -O2 -Wall -Wextra -Werror -fPIC -shared -pthread -DNODE_GYP_MODULE_NAME="$2" -DNAPI_VERSION=8 -I"$inc" \
      -o "$1/build/$2.node.tmp" "$1/$2.c"
    mv "$1/build/$2.node.tmp" "$1/build/$2.node"
  fi
}
build tcp-md5 tcp_md5
build rtnetlink rtnetlink
