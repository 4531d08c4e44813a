#!/usr/bin/env bash
# Builds the control-plane and JuiceFS binaries from Go modules at the versions pinned in
# versions.env, into a cache directory keyed by those versions (and by this script), and prints
# that bin directory on its last line of stdout. Reuses a finished build when present.
#
#   test/toolchain/build.sh            # build (or reuse) and print the bin dir
#
# Environment:
#   PADDLE_TOOLCHAIN_CACHE  root of the cache (default: $XDG_CACHE_HOME or ~/.cache, /paddle-operator/toolchain)
#   KUBEBUILDER_ASSETS      a directory with kube-apiserver, etcd and kubectl: those three are linked
#                           from there instead of being built (as envtest users expect)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# the key changes with the pinned versions (and BUILD_REVISION there, bumped when this script changes what it builds)
key=$(sha256sum < "$here/versions.env" | cut -c1-12)
root="${PADDLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddle-operator/toolchain}"
out="$root/k8s-${KUBERNETES_VERSION}-kwok-${KWOK_VERSION}-juicefs-${JUICEFS_VERSION}-$key"
bin="$out/bin"
log() { echo "[toolchain] $*" >&2; }

want=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok juicefs)
complete() { for b in "${want[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if complete; then log "reusing $bin"; echo "$bin"; exit 0; fi

mkdir -p "$bin" "$out/work"
exec 9>"$out/.lock"; flock 9
if complete; then log "reusing $bin"; echo "$bin"; exit 0; fi
start=$(date +%s)
mod_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
mod_file() { go mod download -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p'; }

# --- Kubernetes (+ etcd), one wrapper module -------------------------------------------------
build_kubernetes() {
  local w="$out/work/kubernetes" minor patch kmod etcdv
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2); patch=$(echo "$KUBERNETES_VERSION" | cut -d. -f3)
  kmod=$(mod_file "k8s.io/kubernetes@$KUBERNETES_VERSION")
  etcdv=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$kmod")
  rm -rf "$w"; mkdir -p "$w"
  {
    echo "module paddle-operator/toolchain/kubernetes"
    echo; echo "go $(awk '$1=="go"{print $2; exit}' "$kmod")"
    echo; echo "require ("
    echo "	k8s.io/kubernetes $KUBERNETES_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $etcdv"
    echo ")"
    echo
    # every staging module kubernetes points at ./staging is replaced by its published v0.<minor>.<patch>
    awk -v v="v0.$minor.$patch" '$2=="=>" && $3 ~ /^\.\/staging\// {print "replace " $1 " => " $1 " " v}' "$kmod"
  } > "$w/go.mod"
  cat > "$w/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$w" && go mod tidy -e >/dev/null 2>"$w/tidy.log" || { cat "$w/tidy.log" >&2; exit 1; })
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  local targets=()
  [ -n "${KUBEBUILDER_ASSETS:-}" ] || targets+=(kube-apiserver kubectl)
  targets+=(kube-controller-manager kube-scheduler)
  for t in "${targets[@]}"; do
    log "building $t $KUBERNETES_VERSION"
    (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$bin/$t" "k8s.io/kubernetes/cmd/$t")
  done
  if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
    log "building etcd $etcdv"
    (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)
  else
    for t in kube-apiserver etcd kubectl; do
      [ -x "$KUBEBUILDER_ASSETS/$t" ] || { log "KUBEBUILDER_ASSETS has no $t"; exit 1; }
      ln -sf "$KUBEBUILDER_ASSETS/$t" "$bin/$t"
    done
  fi
}

# --- KWOK -------------------------------------------------------------------------------------
build_kwok() {
  local w="$out/work/kwok" kmod
  kmod=$(mod_file "sigs.k8s.io/kwok@$KWOK_VERSION")
  rm -rf "$w"; mkdir -p "$w"
  printf 'module paddle-operator/toolchain/kwok\n\ngo %s\n\nrequire sigs.k8s.io/kwok %s\n' \
    "$(awk '$1=="go"{print $2; exit}' "$kmod")" "$KWOK_VERSION" > "$w/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' > "$w/tools.go"
  (cd "$w" && go mod tidy -e >/dev/null 2>"$w/tidy.log" || { cat "$w/tidy.log" >&2; exit 1; })
  log "building kwok $KWOK_VERSION"
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
}

# --- JuiceFS (cgo for SQLite metadata); its own replace lines are repeated in the wrapper -------
build_juicefs() {
  local w="$out/work/juicefs" jmod
  jmod=$(mod_file "github.com/juicedata/juicefs@$JUICEFS_VERSION")
  rm -rf "$w"; mkdir -p "$w"
  {
    echo "module paddle-operator/toolchain/juicefs"
    echo; echo "go $(awk '$1=="go"{print $2; exit}' "$jmod")"
    echo; echo "require github.com/juicedata/juicefs $JUICEFS_VERSION"; echo
    grep -E '^replace ' "$jmod"
    # a replace (...) block, if the release uses one
    awk '/^replace \($/{b=1;next} b&&/^\)/{b=0} b{print "replace " $0}' "$jmod"
  } > "$w/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/juicedata/juicefs"\n' > "$w/tools.go"
  # juicefs's own go.sum carries the hashes of its forks, which the checksum database does not know
  cp "$(mod_dir "github.com/juicedata/juicefs@$JUICEFS_VERSION")/go.sum" "$w/go.sum"; chmod u+w "$w/go.sum"
  (cd "$w" && go mod tidy -e >/dev/null 2>"$w/tidy.log" || { cat "$w/tidy.log" >&2; exit 1; })
  log "building juicefs $JUICEFS_VERSION"
  (cd "$w" && CGO_ENABLED=1 go build -trimpath \
     -ldflags "-s -w -X github.com/juicedata/juicefs/pkg/version.revision=${JUICEFS_VERSION} -X github.com/juicedata/juicefs/pkg/version.revisionDate=release" \
     -o "$bin/juicefs" github.com/juicedata/juicefs)
}

[ -x "$bin/juicefs" ] || build_juicefs
[ -x "$bin/kwok" ] || build_kwok
{ [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] && [ -x "$bin/kube-scheduler" ] && [ -x "$bin/etcd" ] && [ -x "$bin/kubectl" ]; } || build_kubernetes
complete || { log "build incomplete"; exit 1; }
log "built in $(( $(date +%s) - start )) s into $bin"
echo "$bin"
