#!/bin/sh
exec svlogd -tt /var/log/nginx-runit
