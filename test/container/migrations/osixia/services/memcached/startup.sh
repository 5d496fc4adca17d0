#!/bin/bash -e
echo "memcached-startup $(date +%s.%N)" >> /run/container/startup-order
