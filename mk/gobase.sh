#!/bin/sh
# Builds B/wqbase, the Go baseline of the queue benchmarks (tests/perf_go/wqbase.go: client-go's
# queue algorithm with its Prometheus metrics), offline against Debian's Go packages.
# usage: mk/gobase.sh B
set -eu
B=${1:-build}
sh mk/deps.sh golang-github-prometheus-client-golang-dev
mkdir -p "$B"
GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$(pwd)/$B/gocache" \
	go build -o "$B/wqbase" ./tests/perf_go/
