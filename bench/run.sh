#!/bin/sh
# cti-enrich benchmarks: builds the Release binary (incrementally) in
# build-bench/, then runs bench/bench.py.
#
#   bench/run.sh                 all four benchmarks, then a README summary
#   bench/run.sh throughput      one of: throughput gzip memory concurrency
#   BENCH_MB=100 bench/run.sh    smaller inputs (see bench/bench.py for every knob)
#
# Set CTI_ENRICH_BIN to benchmark an existing binary without building.
# Needs ripgrep and GNU time: CTI_DEPS_BENCH=1 packaging/install-deps.sh
# Generated data lives in $BENCH_DIR (default $TMPDIR/cti-bench or /tmp/cti-bench).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for tool in rg /usr/bin/time gzip; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench: $tool is missing; run CTI_DEPS_BENCH=1 packaging/install-deps.sh" >&2
        exit 1
    }
done
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
if [ -z "${CTI_ENRICH_BIN:-}" ]; then
    echo "-- building $BUILD (Release)" >&2
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j2 --target cti-enrich >/dev/null
    CTI_ENRICH_BIN=$BUILD/cti-enrich
    export CTI_ENRICH_BIN
fi
exec python3 "$ROOT/bench/bench.py" "$@"
