# syntax=docker/dockerfile:1
#
# One image, two entry points:
#   paddle-operator  the controller process (kustomize/manager runs it as user 65532)
#   paddle-runtime   the cache runtime server of each cache pod (its StatefulSet runs it as uid 0,
#                    unprivileged, with only CHOWN/DAC_OVERRIDE/FOWNER, to read the CSI-mounted
#                    volume and manage the host cache directories)
# plus a pinned `juicefs` binary at /usr/local/bin/juicefs.
#
#   docker build -t paddle-operator:latest .
#
# Reproducible: base images pinned by tag, `npm ci` from package-lock.json, JuiceFS built from its
# Go module at a pinned version with -trimpath. (Pin the base images by digest as well if your
# registry policy requires it: FROM node:20.20-bookworm-slim@sha256:....)

# ---------------------------------------------------------------------------------------------
# Stage 1: juicefs, built from the Go module like test/toolchain/build.sh does: a wrapper module
# that requires github.com/juicedata/juicefs and repeats its `replace` lines (which `go install
# pkg@version` would refuse), with cgo on for the SQLite metadata engine.
FROM golang:1.26-bookworm AS juicefs
# Must equal JUICEFS_VERSION in test/toolchain/versions.env (the binary the tests run).
# The wrapper reuses juicefs's own go.sum: it carries the hashes of juicefs's forks, which the
# checksum database does not know.
ARG JUICEFS_VERSION=v1.3.1
ENV GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=1
WORKDIR /src/juicefs
# Each check stands on its own: under `set -e` a failing `test` before `&&` does not stop a build.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eux; \
    mkdir -p /out; \
    gomod="$(go mod download -json "github.com/juicedata/juicefs@${JUICEFS_VERSION}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"; \
    moddir="$(go mod download -json "github.com/juicedata/juicefs@${JUICEFS_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"; \
    test -n "$gomod" || { echo "juicefs ${JUICEFS_VERSION}: the module proxy gave no go.mod" >&2; exit 1; }; \
    test -n "$moddir" || { echo "juicefs ${JUICEFS_VERSION}: the module proxy gave no module directory" >&2; exit 1; }; \
    { \
      echo "module paddle-operator/image/juicefs"; \
      echo; echo "go $(awk '$1=="go"{print $2; exit}' "$gomod")"; \
      echo; echo "require github.com/juicedata/juicefs ${JUICEFS_VERSION}"; echo; \
      grep -E '^replace ' "$gomod" || true; \
      awk '/^replace \($/{b=1;next} b&&/^\)/{b=0} b{print "replace " $0}' "$gomod"; \
    } > go.mod; \
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/juicedata/juicefs"\n' > tools.go; \
    cp "$moddir/go.sum" go.sum; chmod u+w go.sum; \
    go mod tidy -e; \
    go build -trimpath \
      -ldflags "-s -w -X github.com/juicedata/juicefs/pkg/version.revision=${JUICEFS_VERSION} -X github.com/juicedata/juicefs/pkg/version.revisionDate=release" \
      -o /out/juicefs github.com/juicedata/juicefs; \
    /out/juicefs version

# ---------------------------------------------------------------------------------------------
# Stage 2: the TypeScript build, then only the production dependencies are kept.
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=development npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && chmod 0755 dist/src/bin/*.js

# ---------------------------------------------------------------------------------------------
# Stage 3: runtime image.
FROM node:20.20-bookworm-slim
# fuse3 (fusermount3, /etc/fuse.conf) for the runtime server's JuiceFS mounts; CA certificates for
# object storage over HTTPS. (DEBIAN_FRONTEND only for this command: debconf asks nothing and does
# not try a terminal, and it is not left in the image's environment.)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fuse3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=juicefs /out/juicefs /usr/local/bin/juicefs
# Both entry points on PATH (the compiled files start with `#!/usr/bin/env node`).
RUN ln -s /app/dist/src/bin/paddle-operator.js /usr/local/bin/paddle-operator \
 && ln -s /app/dist/src/bin/paddle-runtime.js /usr/local/bin/paddle-runtime \
 && juicefs version
# Non-root by default (the operator); the runtime StatefulSet sets runAsUser 0 for the cache dirs.
USER 65532:65532
# Reset the node image's docker-entrypoint.sh: the container command is the program itself (whose
# `#!` line gives Node the flags that keep the controller's memory low: src/bin/paddle-operator.ts).
ENTRYPOINT []
CMD ["paddle-operator"]
