# Datapump container image: build with the Rust toolchain, run on a slim Debian as a non-root user.
#   docker build -t datapump .
#   docker run -p 8000:8000 -v datapump-data:/data datapump
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that code changes do not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo .cargo
COPY sim/Cargo.toml sim/Cargo.toml
# Cargo.toml names the bench targets, so they need (empty) files for the manifest to load; the
# simulator crate is a workspace member and gets an empty library meanwhile.
RUN mkdir -p src benches sim/src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs sim/src/lib.rs \
    && for b in sim import api scale dashboard; do cp src/main.rs benches/$b.rs; done \
    && cargo build --release --locked && rm -rf src sim/src
COPY sim sim
COPY src src
COPY templates templates
COPY static static
COPY migrations migrations
COPY locales locales
RUN touch src/main.rs src/lib.rs sim/src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin datapump \
    && mkdir -p /data && chown datapump:datapump /data && chmod 700 /data
COPY --from=build /src/target/release/datapump /usr/local/bin/datapump
USER datapump
ENV DATAPUMP_DATA_DIR=/data \
    DATAPUMP_BIND=0.0.0.0:8000 \
    DATAPUMP_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
    CMD ["datapump", "healthcheck"]
ENTRYPOINT ["datapump"]
CMD ["serve"]
