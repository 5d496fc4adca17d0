#!/bin/bash
container log info "nginx finished: exit $1 signal $2"
