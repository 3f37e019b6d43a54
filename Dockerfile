# Hush server image: built in a Rust image, run from a slim Debian one as a non-root user.
#   docker build -t hush .
#   docker run -p 8080:8080 -v hush-data:/data hush
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p hush-server \
 && strip target/release/hush-server

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin hush \
 && mkdir -p /data && chown hush:hush /data
COPY --from=build /src/target/release/hush-server /usr/local/bin/hush-server
USER hush
ENV HUSH_BIND=0.0.0.0:8080 \
    HUSH_DATA_DIR=/data \
    HUSH_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 CMD ["hush-server", "--probe"]
ENTRYPOINT ["hush-server"]
