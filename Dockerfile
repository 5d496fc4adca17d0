# A ready base image: keel at /usr/bin/keel, every applet linked, init as the entrypoint.
#   npx bun run build && docker build -t keel .
#   docker build --build-arg KEEL_BINARY=dist/keel-linux-arm64 --platform linux/arm64 -t keel:arm64 .
FROM debian:bookworm-slim
ARG KEEL_BINARY=dist/keel-linux-x64
COPY ${KEEL_BINARY} /usr/bin/keel
RUN ["/usr/bin/keel", "install"]
ENTRYPOINT ["/sbin/init"]
