#!/bin/sh
# The one place that knows which Debian packages cti-enrich needs to build,
# test and benchmark. Run as root (or with sudo) on Debian 12 or later.
set -eu

PKGS="build-essential cmake pkg-config
libcurl4-openssl-dev libjson-c-dev libpcre2-dev zlib1g-dev libsqlite3-dev
python3 ca-certificates gzip"

# Optional extras: CTI_DEPS_EXTRA=1 adds valgrind (the memory check of the
# integration tests, as CI runs it); CTI_DEPS_BENCH=1 adds what bench/ uses
# (ripgrep and gzip as baselines, GNU time for peak RSS).
if [ "${CTI_DEPS_EXTRA:-0}" = 1 ]; then
    PKGS="$PKGS valgrind"
fi
if [ "${CTI_DEPS_BENCH:-0}" = 1 ]; then
    PKGS="$PKGS ripgrep time"
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "install-deps: ok"
