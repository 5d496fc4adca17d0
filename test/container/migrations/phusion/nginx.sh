#!/bin/sh
echo "nginx $(date +%s.%N)" >> /var/log/boot-order
# In the foreground; notice-level messages (the signals nginx gets) go to stderr, and with it
# to log/run.
exec 2>&1
exec /usr/sbin/nginx -g 'daemon off; error_log stderr notice;'
