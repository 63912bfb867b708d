#!/usr/bin/env bash
# Builds cti-enrich if needed and enriches the bundled sample access log with
# the bundled sample CTI data: no API key and no network needed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/cti-enrich ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
fi
echo "== the first lines of samples/access.log.gz, enriched (kv format):"
build/cti-enrich --offline --no-cache --cti-data samples/cti-data.jsonl \
    samples/access.log.gz | head -n 8
echo
echo "== one line in JSON format:"
build/cti-enrich --offline --no-cache --cti-data samples/cti-data.jsonl --format json \
    samples/access.log.gz | sed -n 2p
echo
echo "== what a real run over this log would cost (cti-enrich plan):"
build/cti-enrich plan --no-cache --cti-data samples/cti-data.jsonl samples/access.log.gz
