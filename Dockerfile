# syntax=docker/dockerfile:1
#
# warmkv as a small, static, non-root image:
#   docker build -t warmkv . && docker run --cpus 2 --memory 2g -p 7171:7171 warmkv
# The process sizes itself from the container's limits: Go sets GOMAXPROCS from
# the CPU quota, and warmkv derives the cache budget and GOMEMLIMIT from the
# cgroup memory limit (see docs/operations.md, "Memory"). MAX_MEMORY and SIZE override.

ARG GO_VERSION=1.26

# Build on the builder's own platform and cross-compile, which a static Go
# binary allows: a multi-arch build then needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# The same flags as `make build`: static (no libc in the final image), no local
# paths, no symbol tables.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -tags lambda.norpc -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/warmkv . \
    && mkdir -p /out/data

# distroless/static: CA certificates, tzdata and /etc/passwd, but no shell or
# package manager; the :nonroot tag's user is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
# OCI labels: where the image comes from, which version it is, its licence.
ARG VERSION=dev
LABEL org.opencontainers.image.title="warmkv" \
      org.opencontainers.image.description="An in-memory key-value cache with an HTTP API and the Redis protocol" \
      org.opencontainers.image.source="https://github.com/warmkv/warmkv" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/warmkv /warmkv
# Snapshots go to /data; the directory must belong to the user the server runs as.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]
ENV APP_ENV=production
USER 65532:65532
EXPOSE 7171
# No shell or curl in the image: the binary probes its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/warmkv", "-healthcheck"]
ENTRYPOINT ["/warmkv"]
