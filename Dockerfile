# One image, two binaries: `sluice-api` and `sluice-worker` (docker-compose picks the command).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sluice-api -p sluice-worker

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sluice-api /src/target/release/sluice-worker /usr/local/bin/
ENV SLUICE_LISTEN=0.0.0.0:8080
EXPOSE 8080
CMD ["sluice-api"]
