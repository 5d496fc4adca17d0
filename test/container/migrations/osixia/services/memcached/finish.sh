#!/bin/bash
container log info "memcached finished: exit $1 signal $2"
