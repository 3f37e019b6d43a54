# Hush server image: one static binary with the web app inside, on an empty base.
#   docker build -t hush .          (or `docker compose up -d`, see docker-compose.yml)
# Build stage: scripts/build-web.sh installs the wasm32 target, the pinned wasm-bindgen-cli,
# Binaryen and Terser and builds the web app; the server is built for musl (static) with the
# web app embedded. Final stage: the binary, CA certificates and an empty /data, run as an
# unprivileged user (uid 10001). x86_64 hosts only (the musl target is named below).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN bash scripts/build-web.sh \
 && HUSH_EMBED_WEB_DIR=/src/target/web cargo build --release --locked -p hush-server --features embed-web \
      --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/hush-server /hush-server \
 && strip /hush-server \
 && mkdir /empty-data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /hush-server /usr/local/bin/hush-server
COPY --from=build --chown=10001:10001 /empty-data /data
USER 10001:10001
ENV HUSH_BIND=0.0.0.0:8080 \
    HUSH_DATA_DIR=/data \
    HUSH_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 CMD ["/usr/local/bin/hush-server", "--probe"]
ENTRYPOINT ["/usr/local/bin/hush-server"]
