#!/bin/bash -e
echo "nginx-startup $(date +%s.%N)" >> /run/container/startup-order
echo "I'm ${WHO_AM_I}." > /var/www/html/index.html
container log info "nginx: page written for ${WHO_AM_I}"
