# syntax=docker/dockerfile:1
# The one Herald binary (node, gateway, tools) in a slim non-root image.
#   docker build -t herald:0.1.0 .
#   docker run --rm -p 2181:2181 herald:0.1.0          # a standalone node
# On Kubernetes the manifests in deploy/k8s run `herald server --config ...`.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build tree between builds; the
# binary is copied out because the target mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p herald \
    && cp target/release/herald /usr/local/bin/herald

FROM debian:bookworm-slim AS runtime
# checkov:skip=CKV_DOCKER_2: health is probed by the orchestrator on the admin port (/healthz, /readyz); the slim image carries no HTTP client for a HEALTHCHECK
# uid/gid 65532 matches runAsUser in the Kubernetes manifests.
RUN groupadd --gid 65532 herald \
    && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin herald \
    && mkdir -p /var/lib/herald /etc/herald \
    && chown 65532:65532 /var/lib/herald
COPY --from=build /usr/local/bin/herald /usr/local/bin/herald
USER 65532:65532
WORKDIR /var/lib/herald
# client, peer, admin, gateway HTTP
EXPOSE 2181 2888 8080 8181
VOLUME ["/var/lib/herald"]
ENTRYPOINT ["herald"]
# With no configuration file: a standalone node on 0.0.0.0:2181, data in
# /var/lib/herald/herald-data.
CMD ["server"]
