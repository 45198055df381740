# syntax=docker/dockerfile:1.7
# The FitSync image: one binary, every target (`run --target ...`, `migrate --wait 60`).
# Built in GitHub Actions by .github/workflows/deliver.yml; on a machine without a
# Docker engine, scripts/image.sh builds the equivalent image with buildah (docs/image.md).
#
# Base images are pinned by tag. Their digests could not be looked up where this file
# was written (no registry reachable), so the pipeline resolves and records them: the
# build's provenance/SBOM attestations carry the digests that were used, and Renovate
# or Dependabot (docker ecosystem) can rewrite these lines to `tag@sha256:...`.

# ---- build: Debian 12 with the same toolchain as the repository's CI -------------
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
# Queries are checked against the committed cache in .sqlx/, not a live database.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY . .
# The registry and target caches survive between builds on the same builder
# (BuildKit cache mounts); the binary is copied out of the cached target dir.
# The root filesystem staged in /out holds the binary and the one shared library
# the final base lacks (zlib, linked by librdkafka).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p fitsync \
 && arch="$(gcc -dumpmachine)" \
 && mkdir -p "/out/usr/local/bin" "/out/usr/lib/${arch}" \
 && strip --strip-unneeded -o /out/usr/local/bin/fitsync target/release/fitsync \
 && cp -L "/lib/${arch}/libz.so.1" "/out/usr/lib/${arch}/libz.so.1" \
 && /out/usr/local/bin/fitsync --version

# ---- web: the browser app (web/), built from its committed lockfile ----------------
FROM node:20.20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build && node scripts/bundle-size.mjs \
 && mkdir -p /out/srv && cp -r dist /out/srv/web

# ---- runtime: glibc, libgcc, CA certificates, tzdata, nonroot user 65532 ----------
# No shell, no package manager. Run with a read-only root filesystem (the process
# writes nothing but /tmp, which the orchestrator mounts as an emptyDir).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /
COPY --from=web /out/ /
USER 65532:65532
ENV FITSYNC__SERVER__BIND=0.0.0.0:8080 \
    FITSYNC__SERVER__WEB_ROOT=/srv/web
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fitsync"]
CMD ["run", "--target", "all"]
