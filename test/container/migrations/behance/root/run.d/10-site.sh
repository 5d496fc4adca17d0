#!/bin/bash
# Ahead of the supervisor: the site for this machine's architecture.
echo "run.d $(date +%s.%N)" >> /var/log/boot-order
if [[ "$BUILD_ONLY" == "1" ]]; then
  echo "run.d: build-only run, stopping"
  exit $SIGNAL_BUILD_STOP
fi
echo "arch=$(archstring --x64 amd64 --arm64 arm64) role=${CONTAINER_ROLE:-web}" > /var/www/html/index.html
