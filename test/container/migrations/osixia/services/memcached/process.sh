#!/bin/bash -e
exec memcached -v -u memcache -l 127.0.0.1 -p 11211 -m "${MEMCACHED_MB}"
