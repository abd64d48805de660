#!/usr/bin/env bash
# What `npm ci` needs to build the optional native Kafka client (@confluentinc/kafka-javascript, kafka.client:
# librdkafka) from source: a C/C++ toolchain, make, python3, and the Debian dev packages of the libraries librdkafka
# links against (OpenSSL for TLS and SCRAM, zlib for gzip, zstd; lz4 and snappy are bundled). Run it BEFORE
# `npm ci` (.ci/run does). Installs only what is missing (apt-get, as root or with sudo); elsewhere it only says
# what is missing. Where GitHub is reachable, npm downloads a prebuilt binary instead and none of this is used.
#
# Then `npm ci` builds the client with CKJS_LINKING=dynamic (set by .ci/run and scripts/ensure-ready.mjs), which
# links the system libraries: the package's default static build downloads OpenSSL, zlib, zstd … sources from
# the internet during `npm ci`. If the build still fails, npm drops the optional dependency and changecast runs
# with kafka.client: kafkajs.
set -euo pipefail

PKGS=(g++ make python3 libssl-dev zlib1g-dev libzstd-dev liblz4-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[install-native-deps] not a Debian system; for kafka.client: librdkafka install: ${missing[*]} (or equivalents)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "[install-native-deps] missing ${missing[*]} and not root: kafka.client: librdkafka may not build" >&2
    exit 0
  fi
  sudo="sudo"
fi
echo "[install-native-deps] installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
