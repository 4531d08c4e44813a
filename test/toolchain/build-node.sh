#!/usr/bin/env bash
# Builds what a REAL node needs, from Go modules at the versions pinned in node-versions.env (and
# KUBERNETES_VERSION in versions.env), into a cache directory keyed by those files and this script,
# and prints that bin directory on its last line of stdout. Reuses a finished build.
#
#   kubelet, kube-proxy             k8s.io/kubernetes/cmd/{kubelet,kube-proxy} (a wrapper module, like build.sh)
#   runc (seccomp), containerd, ctr, containerd-shim-runc-v2, crictl
#   cni/{bridge,loopback,host-local,portmap}
#   juicefs-csi-driver              github.com/juicedata/juicefs-csi-driver/cmd
#   csi-registrar                   test/toolchain/registrar (the kubelet plugin-registration API)
#   pause                           test/toolchain/pause (the pod sandbox's process, static)
#
# Needs gcc and libseccomp-dev (cgo for runc and containerd). Environment: PADDLE_TOOLCHAIN_CACHE as
# in build.sh. Each step logs how long it took, so cold-build costs can be read off the log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=node-versions.env
source "$here/node-versions.env"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

key=$(cat "$here/versions.env" "$here/node-versions.env" "$here/registrar/main.go" "$here/pause/main.go" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
root="${PADDLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddle-operator/toolchain}"
out="$root/node-k8s-${KUBERNETES_VERSION}-containerd-${CONTAINERD_VERSION}-csi-${JUICEFS_CSI_VERSION}-$key"
bin="$out/bin"
log() { echo "[node-toolchain] $*" >&2; }

want=(kubelet kube-proxy pause runc containerd ctr containerd-shim-runc-v2 crictl cni/bridge cni/loopback cni/host-local cni/portmap juicefs-csi-driver csi-registrar)
complete() { for b in "${want[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if complete; then log "reusing $bin"; echo "$bin"; exit 0; fi

mkdir -p "$bin/cni" "$out/work"
exec 9>"$out/.lock"; flock 9
if complete; then log "reusing $bin"; echo "$bin"; exit 0; fi
if ! [ -e /usr/include/seccomp.h ]; then log "libseccomp-dev is missing (apt-get install libseccomp-dev)"; exit 1; fi
start=$(date +%s)
mod_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
mod_file() { go mod download -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p'; }
timed() { local what=$1 s; shift; s=$(date +%s); "$@"; log "$what: $(( $(date +%s) - s )) s"; }

# A module's own tree, writable, to build its commands as the main module (its go.sum applies).
source_of() {
  local d; d=$(mod_dir "$1")
  [ -n "$d" ] || { log "the module proxy gave no $1"; exit 1; }
  rm -rf "$out/work/$2"; cp -r "$d" "$out/work/$2"; chmod -R u+w "$out/work/$2"
}

build_kubelet() {
  local w="$out/work/kubelet" minor patch kmod ld
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2); patch=$(echo "$KUBERNETES_VERSION" | cut -d. -f3)
  kmod=$(mod_file "k8s.io/kubernetes@$KUBERNETES_VERSION")
  [ -n "$kmod" ] || { log "the module proxy gave no k8s.io/kubernetes@$KUBERNETES_VERSION"; exit 1; }
  rm -rf "$w"; mkdir -p "$w"
  {
    echo "module paddle-operator/toolchain/kubelet"
    echo; echo "go $(awk '$1=="go"{print $2; exit}' "$kmod")"
    echo; echo "require k8s.io/kubernetes $KUBERNETES_VERSION"; echo
    awk -v v="v0.$minor.$patch" '$2=="=>" && $3 ~ /^\.\/staging\// {print "replace " $1 " => " $1 " " v}' "$kmod"
  } > "$w/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-proxy"\n\t_ "k8s.io/kubernetes/cmd/kubelet"\n)\n' > "$w/tools.go"
  (cd "$w" && go mod tidy -e >/dev/null 2>"$w/tidy.log" || { cat "$w/tidy.log" >&2; exit 1; })
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$bin/kubelet" k8s.io/kubernetes/cmd/kubelet)
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$bin/kube-proxy" k8s.io/kubernetes/cmd/kube-proxy)
}

build_runc() {
  source_of "github.com/opencontainers/runc@$RUNC_VERSION" runc
  (cd "$out/work/runc" && CGO_ENABLED=1 go build -trimpath -tags seccomp -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" -o "$bin/runc" .)
}

build_containerd() {
  source_of "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" containerd
  (cd "$out/work/containerd" && CGO_ENABLED=1 go build -trimpath -tags no_btrfs -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" -o "$bin/" ./cmd/containerd ./cmd/ctr)
  (cd "$out/work/containerd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/" ./cmd/containerd-shim-runc-v2)
}

build_cni() {
  source_of "github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION" cni
  (cd "$out/work/cni" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/cni/" ./plugins/main/bridge ./plugins/main/loopback ./plugins/ipam/host-local ./plugins/meta/portmap)
}

build_crictl() {
  source_of "sigs.k8s.io/cri-tools@$CRI_TOOLS_VERSION" cri-tools
  (cd "$out/work/cri-tools" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/crictl" ./cmd/crictl)
}

build_csi() {
  source_of "github.com/juicedata/juicefs-csi-driver@$JUICEFS_CSI_VERSION" csi
  (cd "$out/work/csi" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/juicedata/juicefs-csi-driver/pkg/driver.driverVersion=$JUICEFS_CSI_VERSION" -o "$bin/juicefs-csi-driver" ./cmd/)
}

build_registrar() {
  local w="$out/work/registrar" minor patch
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2); patch=$(echo "$KUBERNETES_VERSION" | cut -d. -f3)
  rm -rf "$w"; mkdir -p "$w"; cp "$here/registrar/main.go" "$w/"
  printf 'module paddle-operator/toolchain/registrar\n\ngo 1.24\n\nrequire k8s.io/kubelet v0.%s.%s\n' "$minor" "$patch" > "$w/go.mod"
  (cd "$w" && go mod tidy >/dev/null 2>"$w/tidy.log" || { cat "$w/tidy.log" >&2; exit 1; })
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/csi-registrar" .)
}

build_pause() {
  local w="$out/work/pause"
  rm -rf "$w"; mkdir -p "$w"; cp "$here/pause/main.go" "$w/"
  printf 'module paddle-operator/toolchain/pause\n\ngo 1.24\n' > "$w/go.mod"
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/pause" .)
}

[ -x "$bin/csi-registrar" ] || timed "csi-registrar" build_registrar
[ -x "$bin/pause" ] || timed "pause" build_pause
[ -x "$bin/runc" ] || timed "runc $RUNC_VERSION" build_runc
{ [ -x "$bin/cni/bridge" ] && [ -x "$bin/cni/portmap" ]; } || timed "cni plugins $CNI_PLUGINS_VERSION" build_cni
[ -x "$bin/crictl" ] || timed "crictl $CRI_TOOLS_VERSION" build_crictl
{ [ -x "$bin/kubelet" ] && [ -x "$bin/kube-proxy" ]; } || timed "kubelet $KUBERNETES_VERSION" build_kubelet
{ [ -x "$bin/containerd" ] && [ -x "$bin/containerd-shim-runc-v2" ]; } || timed "containerd $CONTAINERD_VERSION" build_containerd
[ -x "$bin/juicefs-csi-driver" ] || timed "juicefs-csi-driver $JUICEFS_CSI_VERSION" build_csi
complete || { log "build incomplete"; exit 1; }
log "built in $(( $(date +%s) - start )) s into $bin"
echo "$bin"
