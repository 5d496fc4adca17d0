#!/bin/bash -e
exec /usr/sbin/nginx -g "daemon off; error_log stderr notice;"
