#!/bin/sh
echo "memcached $(date +%s.%N)" >> /var/log/boot-order
# `/sbin/setuser memcache` runs memcached as the user memcache; -v prints the signal it stops on.
exec /sbin/setuser memcache /usr/bin/memcached -v -l 127.0.0.1 -p 11211 >>/var/log/memcached.log 2>&1
