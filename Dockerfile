# syntax=docker/dockerfile:1

# Image of Steward's workers: both ingest and reaper are in it, and the
# service's command picks one (see docker-compose.yml). The default command
# runs ingest.

# The Go version of go.mod. The official golang images set GOTOOLCHAIN=local,
# so an older image would refuse to build the module.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src

# Download modules in their own layer, so a source change reuses it.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
# Every dependency is pure Go, so the binaries are static and run on an image
# without a C library.
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/ingest ./cmd/reaper

# Distroless "static": CA certificates and time zone data, no shell or
# package manager, and the "nonroot" user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ingest /out/reaper /usr/local/bin/
USER nonroot:nonroot
CMD ["/usr/local/bin/ingest"]
