#!/bin/sh
# A startup script: runs before any service, with /etc/container_environment loaded.
set -e
echo "my_init.d $(date +%s.%N)" >> /var/log/boot-order
echo "hello from $GREETING" > /var/www/html/index.html
