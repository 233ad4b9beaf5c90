#!/usr/bin/env sh
# Builds the TCP-MD5 helper (tcp_md5.c) into build/tcp_md5.node with the C compiler and the
# Node-API headers that ship with Node (…/include/node), no node-gyp: it is one C file using
# only the stable Node-API, so the binary keeps working across Node versions.
set -eu
cd "$(dirname "$0")"
node_prefix=$(dirname "$(dirname "$(command -v node)")")
inc=""
for d in "$node_prefix/include/node" /usr/include/node /usr/local/include/node; do
  [ -f "$d/node_api.h" ] && { inc="$d"; break; }
done
[ -n "$inc" ] || { echo "native/tcp-md5: node_api.h not found (looked under $node_prefix/include/node, /usr/include/node)" >&2; exit 1; }
cc=${CC:-cc}
mkdir -p build
if [ ! -f build/tcp_md5.node ] || [ tcp_md5.c -nt build/tcp_md5.node ]; then
  "$cc" -O2 -Wall -Wextra -Werror -fPIC -shared -DNODE_GYP_MODULE_NAME=tcp_md5 -DNAPI_VERSION=8 -I"$inc" \
    -o build/tcp_md5.node.tmp tcp_md5.c
  mv build/tcp_md5.node.tmp build/tcp_md5.node
fi
