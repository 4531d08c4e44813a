#!/usr/bin/env bash
# Builds the project's container image from the repository's Dockerfile, unchanged, with BuildKit
# and without a Docker engine or Docker Hub, and exports it as an OCI image-layout tarball.
#
#   bash test/toolchain/build-image.sh        (npm run image)
#
# stdout, last line: `<absolute path of the OCI tarball> <image reference>`, the reference being
# docker.io/library/paddle-operator:<tag> with <tag> a hash of the build inputs (Dockerfile,
# .dockerignore, package.json, package-lock.json, tsconfig.json, src/, and the base images'
# and builder's pins). A finished tarball for the same tag is reused without starting the builder.
#
# What it makes, in the toolchain cache (PADDLE_TOOLCHAIN_CACHE, as in build.sh), each step reused
# when its key is unchanged:
#   image-buildkit-<version>-<key>/  buildkitd + buildctl, built from BuildKit's Go module
#   image-bases-<key>/               stand-ins for the Dockerfile's FROM images (image-bases.sh)
#   image-state/                     the builder's state: layer cache and RUN cache mounts, kept
#                                    across runs and across changes of this script (several GB,
#                                    never pruned: delete the directory to start afresh)
#   image-out/                       the tarballs
#
# How the Dockerfile is served without Docker Hub:
#   - `# syntax=docker/dockerfile:1` asks BuildKit to fetch that frontend image and hand the build
#     to it. BuildKit's built-in Dockerfile frontend (dockerfile 1.x, compiled into buildkitd) is
#     used instead: the `cmdline` option tells it that the frontend named by the directive is
#     already the one running, which is how a forwarded frontend is invoked.
#   - Each FROM reference is bound to a local OCI layout (BuildKit named contexts), so no registry
#     is asked; a FROM this script has no stand-in for fails the build before it starts.
#
# Machine CA: when the machine reaches registries through a TLS-intercepting proxy, its CA
# certificates (/usr/local/share/ca-certificates/*.crt) are needed by `npm ci` and `go mod download`
# inside the build. The golang stand-in trusts them (that stage ships nothing but the juicefs
# binary). The node stand-in cannot: the Dockerfile's final stage is built FROM it, so anything in
# it ends up in the image. For node, the builder's runc is wrapped to bind the certificates at
# /dev/paddle-build-ca.pem (inside the container's /dev tmpfs, so nothing lands in a layer) and to
# set NODE_EXTRA_CA_CERTS, for the duration of each RUN only.
#
# Needs: go (/usr/local/go), mmdebstrap, jq, the node toolchain's runc (build-node.sh), npm.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=image-versions.env
source "$here/image-versions.env"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
root="${PADDLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddle-operator/toolchain}"
state="$root/image-state"
outdir="$root/image-out"
t0=$(date +%s)
log() { echo "[image] $*" >&2; }
timed() { local what=$1 s; shift; s=$(date +%s); "$@"; log "$what: $(( $(date +%s) - s )) s"; }
die() { log "$*"; exit 1; }

for tool in go jq mmdebstrap npm flock sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install mmdebstrap jq; Go and Node as in .ci/run)"
done

# --- keys --------------------------------------------------------------------------------------
go_version=$(go env GOVERSION)
builder_key=$( { cat "$here/image-versions.env"; echo "$go_version"; } | sha256sum | cut -c1-12)
builder_dir="$root/image-buildkit-$BUILDKIT_VERSION-$builder_key"
# shellcheck source=image-bases.sh
source "$here/image-bases.sh"
bases_dir="$root/image-bases-$(bases_key)"

input_hash() {
  # The build inputs the Dockerfile reads, plus what stands in for its bases and the builder.
  (
    cd "$repo"
    for f in Dockerfile .dockerignore package.json package-lock.json tsconfig.json; do
      printf '%s\0' "$f"; sha256sum < "$f"
    done
    find src -type f -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
      printf '%s\0' "$f"; sha256sum < "$f"
    done
    echo "${bases_dir##*/} ${builder_dir##*/}"
  ) | sha256sum | cut -c1-12
}
tag=$(input_hash)
ref="docker.io/library/paddle-operator:$tag"
tar="$outdir/paddle-operator-$tag.oci.tar"
if [ -s "$tar" ]; then log "reusing $tar"; echo "$tar $ref"; exit 0; fi

mkdir -p "$state" "$outdir"
exec 9>"$state/.lock"; flock 9
if [ -s "$tar" ]; then log "reusing $tar"; echo "$tar $ref"; exit 0; fi
# Partial tarballs of runs that were killed (one build at a time holds the lock).
find "$outdir" -maxdepth 1 -name '*.oci.tar.tmp.*' -delete

# The Dockerfile's FROM references must all have a stand-in (stage names are not references).
check_from_lines() {
  local stages=() refs=() r s known
  mapfile -t stages < <(awk 'toupper($1)=="FROM" && toupper($(NF-1))=="AS" {print $NF}' "$repo/Dockerfile")
  mapfile -t refs < <(awk 'toupper($1)=="FROM" {for (i=2;i<=NF;i++) if ($i !~ /^--/) {print $i; break}}' "$repo/Dockerfile")
  for r in "${refs[@]}"; do
    known=0
    for s in "${stages[@]}" "$NODE_BASE_REF" "$GOLANG_BASE_REF" scratch; do [ "$r" = "$s" ] && known=1; done
    [ "$known" = 1 ] || die "the Dockerfile builds FROM $r, which has no local stand-in: update test/toolchain/image-versions.env and image-bases.sh"
  done
}
check_from_lines

# The `# syntax=` directive, when present, must name a dockerfile 1.x frontend: that is what the
# built-in frontend is (a custom frontend image cannot be stood in for).
syntax=$(awk 'NR==1 && tolower($0) ~ /^# *syntax *=/ { sub(/^# *[sS][yY][nN][tT][aA][xX] *= */, ""); print }' "$repo/Dockerfile")
if [ -n "$syntax" ] && ! [[ $syntax =~ ^(docker\.io/)?docker/dockerfile:1(\.[0-9]+)*$ ]]; then
  die "the Dockerfile asks for the frontend $syntax; only docker/dockerfile:1[.x] is served (by BuildKit's built-in frontend)"
fi

# --- the builder ---------------------------------------------------------------------------------
build_buildkit() {
  local src="$builder_dir/src" d
  d=$(go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | jq -r '.Dir // empty')
  [ -n "$d" ] || die "the module proxy gave no github.com/moby/buildkit@$BUILDKIT_VERSION"
  # Built as the main module: its go.mod has exclude directives, which `go install pkg@version` refuses.
  rm -rf "$src"; cp -r "$d" "$src"; chmod -R u+w "$src"
  (cd "$src" && nice go build -mod=mod -o "$builder_dir/bin.tmp/" ./cmd/buildkitd ./cmd/buildctl)
  rm -rf "$builder_dir/bin" "$src"; mv "$builder_dir/bin.tmp" "$builder_dir/bin"
}
if ! [ -x "$builder_dir/bin/buildkitd" ] || ! [ -x "$builder_dir/bin/buildctl" ]; then
  mkdir -p "$builder_dir"
  timed "buildkit $BUILDKIT_VERSION built from its Go module" build_buildkit
fi
buildctl="$builder_dir/bin/buildctl"

runc_bin=$(bash "$here/build-node.sh" | tail -1)/runc
[ -x "$runc_bin" ] || die "build-node.sh did not provide runc ($runc_bin)"

# Machine CA certificates (empty when the machine has none of its own).
ca_pem="$state/machine-ca.pem"
: > "$ca_pem"
for c in /usr/local/share/ca-certificates/*.crt; do if [ -f "$c" ]; then cat "$c" >> "$ca_pem"; fi; done

# runc as the builder calls it, plus (when there is a machine CA) the certificates bound into each
# RUN container for Node. Only the process's environment and mounts change, never its rootfs.
cat > "$state/runc" <<EOF
#!/usr/bin/env bash
set -euo pipefail
bundle=""; prev=""
for a in "\$@"; do
  case \$prev in --bundle|-b) bundle=\$a ;; esac
  case \$a in --bundle=*) bundle=\${a#--bundle=} ;; esac
  prev=\$a
done
if [ -n "\$bundle" ] && [ -f "\$bundle/config.json" ] && [ -s "$ca_pem" ]; then
  jq --arg src "$ca_pem" '.mounts += [{destination: "/dev/paddle-build-ca.pem", type: "bind", source: \$src,
      options: ["rbind", "ro", "nosuid", "nodev", "noexec"]}]
    | .process.env += ["NODE_EXTRA_CA_CERTS=/dev/paddle-build-ca.pem"]' \
    "\$bundle/config.json" > "\$bundle/config.json.ca"
  mv "\$bundle/config.json.ca" "\$bundle/config.json"
fi
exec "$runc_bin" "\$@"
EOF
chmod +x "$state/runc"

cat > "$state/buildkitd.toml" <<EOF
root = "$state/root"
[grpc]
  address = ["unix://$state/buildkitd.sock"]
[worker.oci]
  enabled = true
  binary = "$state/runc"
  snapshotter = "overlayfs"
  networkMode = "host"
  # The cache lives as long as the cache directory: delete image-state/ to reclaim the space.
  gc = false
[worker.containerd]
  enabled = false
EOF

bk_pid=""
stop_buildkitd() {
  if [ -n "$bk_pid" ]; then kill "$bk_pid" 2>/dev/null || true; wait "$bk_pid" 2>/dev/null || true; bk_pid=""; fi
  rm -f "$state/buildkitd.pid"
}
trap stop_buildkitd EXIT
trap 'exit 130' INT TERM
start_buildkitd() {
  # A builder left behind by a run that was killed holds the state directory: end it first.
  local old i
  old=$(cat "$state/buildkitd.pid" 2>/dev/null || true)
  if [ -n "$old" ] && [ "$(readlink "/proc/$old/exe" 2>/dev/null)" = "$builder_dir/bin/buildkitd" ]; then
    log "stopping buildkitd $old left by an earlier run"
    kill "$old" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$state/buildkitd.sock"
  # Lower priority for the builder and every RUN container; fd 9 (the lock) stays with this script.
  nice -n 10 "$builder_dir/bin/buildkitd" --config "$state/buildkitd.toml" > "$state/buildkitd.log" 2>&1 9>&- &
  bk_pid=$!
  echo "$bk_pid" > "$state/buildkitd.pid"
  for i in $(seq 150); do
    "$buildctl" --addr "unix://$state/buildkitd.sock" debug workers >/dev/null 2>&1 && return 0
    kill -0 "$bk_pid" 2>/dev/null || break
    sleep 0.2
  done
  tail -20 "$state/buildkitd.log" >&2
  die "buildkitd did not start (log: $state/buildkitd.log)"
}
timed "buildkitd started" start_buildkitd
bk() { "$buildctl" --addr "unix://$state/buildkitd.sock" "$@"; }

# --- the bases, then the image ------------------------------------------------------------------
ensure_bases

manifest_of() { jq -r '.manifests[0].digest' "$1/index.json"; }
build_project_image() {
  local tmp="$tar.tmp.$$"
  bk build --progress plain --frontend dockerfile.v0 \
    --local "context=$repo" --local "dockerfile=$repo" \
    ${syntax:+--opt "cmdline=$syntax"} \
    --oci-layout "node-base=$bases_dir/node" --oci-layout "golang-base=$bases_dir/golang" \
    --opt "context:$NODE_BASE_REF=oci-layout://node-base@$(manifest_of "$bases_dir/node")" \
    --opt "context:$GOLANG_BASE_REF=oci-layout://golang-base@$(manifest_of "$bases_dir/golang")" \
    --output "type=oci,dest=$tmp,name=$ref" > "$state/build.log" 2>&1 \
    || { grep -v '^#[0-9]* sha256:' "$state/build.log" | tail -40 >&2; rm -f "$tmp"; die "the image build failed (log: $state/build.log)"; }
  chmod 0644 "$tmp"; mv "$tmp" "$tar"
}
timed "image $ref built" build_project_image
# The context was read some time after the tag was computed: an edit in between would mislabel it.
if [ "$(input_hash)" != "$tag" ]; then
  rm -f "$tar"
  die "the build inputs changed while the image was being built; run again"
fi
# One line per Dockerfile step: its time, or "cached".
awk '/^#[0-9]+ \[/ { id = $1; sub(/^#[0-9]+ /, ""); if (!(id in title)) { title[id] = substr($0, 1, 100); order[++n] = id } }
     /^#[0-9]+ CACHED$/ { took[$1] = "cached" }
     /^#[0-9]+ DONE [0-9.]+s$/ { took[$1] = $3 }
     END { for (i = 1; i <= n; i++) if (took[order[i]] != "") printf "[image]   %-7s %s\n", took[order[i]], title[order[i]] }' "$state/build.log" >&2
stop_buildkitd
old=$(find "$outdir" -maxdepth 1 -name 'paddle-operator-*.oci.tar' ! -name "$(basename "$tar")" -mmin +1440 -print)
[ -z "$old" ] || { log "removing tarballs older than a day: $(echo "$old" | wc -l)"; echo "$old" | xargs rm -f; }
log "done in $(( $(date +%s) - t0 )) s: $(du -m "$tar" | cut -f1) MB"
echo "$tar $ref"
