#!/bin/bash -e
# Build time: the default page goes, ours comes at boot.
rm -f /var/www/html/index.nginx-debian.html
