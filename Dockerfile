# keel's image, built from source in one file (docker build --network host: bun install and apt
# need the registries).
#   docker build --network host -t keel .                      the base image (below)
#   docker build --network host --target binary -t keel:bin .  just /keel, FROM scratch:
#       COPY --from=keel:bin /keel /usr/bin/keel   in any image, then RUN ["/usr/bin/keel", "install"]
#   --build-arg TARGETARCH=arm64   the arm64 binary (bun cross-compiles it; BuildKit sets
#       TARGETARCH itself from --platform). The base image stage needs a Debian for that platform.
#   --build-arg KEEL_COMMIT=$(git rev-parse --short=12 HEAD)   for `keel --version` (no .git here).
ARG TARGETARCH=amd64

FROM oven/bun:1 AS build
ARG TARGETARCH
ARG KEEL_COMMIT=unknown
WORKDIR /src
COPY package.json package-lock.json ./
# Behind a TLS-intercepting proxy, hand its CA in as PEM text; this stage's downloads (packages,
# and bun's runtime for another arch) trust it. It never reaches the images below.
#   --build-arg EXTRA_CA_CERTS="$(cat /usr/local/share/ca-certificates/*.crt)"
ARG EXTRA_CA_CERTS=""
ENV NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem
RUN printf '%s\n' "$EXTRA_CA_CERTS" >/tmp/extra-ca.pem && bun install --production --frozen-lockfile
COPY tsconfig.json ./
COPY build/ build/
COPY src/ src/
COPY applets/ applets/
RUN arch=$(case "$TARGETARCH" in arm64) echo arm64 ;; amd64|x86_64|"") echo x64 ;; *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; esac) \
 && KEEL_COMMIT=$KEEL_COMMIT bun build/build.ts --arch "$arch" --outdir /out \
 && mv "/out/keel-linux-$arch" /keel

FROM scratch AS binary
COPY --from=build /keel /keel

# The base image: Debian with keel at /usr/bin/keel and every path the other base images' scripts
# call (keel install --compat all), execline for s6-overlay's execlineb run scripts, security
# updates and no caches; init as the entrypoint, `sv check` as the health check.
FROM debian:bookworm-slim
COPY --from=build /keel /usr/bin/keel
RUN ["/usr/bin/keel", "install", "--compat", "all"]
RUN apt-get update && apt-get install -y --no-install-recommends execline && security-updates --add-security-source && clean
# behance's run.d scripts stop a build-only run cleanly with `exit $SIGNAL_BUILD_STOP`; its base
# image sets it, so this one does too.
ENV SIGNAL_BUILD_STOP=99
# s6-overlay puts its tools (/command) on PATH, and its execline run scripts call importas,
# redirfd, ... after `with-contenv` has restored PATH: Debian keeps those in /usr/lib/execline/bin.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/command:/usr/lib/execline/bin
ENTRYPOINT ["/sbin/init"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["sv", "check"]
