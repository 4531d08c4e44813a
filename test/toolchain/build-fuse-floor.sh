#!/usr/bin/env bash
# Builds fuse-floor (fuse-floor/: a bare loopback FUSE file system, the data-path benchmark's
# measure of what FUSE alone costs) into the toolchain cache, keyed by its sources, and prints the
# binary's path on the last line of stdout. Reuses a finished build. Only the benchmark needs it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
key=$(cat "$here/fuse-floor/go.mod" "$here/fuse-floor/go.sum" "$here/fuse-floor/main.go" | sha256sum | cut -c1-12)
root="${PADDLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddle-operator/toolchain}"
bin="$root/fuse-floor-$key/fuse-floor"
if [ ! -x "$bin" ]; then
  echo "[toolchain] building fuse-floor" >&2
  mkdir -p "$(dirname "$bin")"
  (cd "$here/fuse-floor" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
echo "$bin"
