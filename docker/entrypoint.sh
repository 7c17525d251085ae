#!/bin/sh
# Entrypoint of the sidechain image: `anvil ...` runs the bundled anvil; anything else is a `sidechain` command
# (node, relayer, network init|deploy, bridge, genesis, ...).
#
# For `node`, two optional variables fill in what the network init step wrote into the shared network folder:
#   SIDECHAIN_NODE_KEY_FILE   copied to <datadir>/nodekey on first start (its libp2p identity, which the other
#                             validators' bootnode lists already name)
#   SIDECHAIN_BOOTNODES_FILE  comma-separated bootnode multiaddrs, appended as --bootnodes
#
# Encrypted keys (V3 keystores, `network init --encrypt-keys`): the password comes from a Docker secret. When
# /run/secrets/sidechain_key_password exists (or the file SIDECHAIN_KEY_PASSWORD_SECRET names), the entrypoint
# points SIDECHAIN_KEY_PASSWORD_FILE at it; node, relayer and network init read the password from that file.
# The password never becomes an argument (the process list) or an environment value.
set -eu

APP_DIR="${SIDECHAIN_APP_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
NODE_BIN="${SIDECHAIN_NODE_BIN:-node}"

secret="${SIDECHAIN_KEY_PASSWORD_SECRET:-/run/secrets/sidechain_key_password}"
if [ -z "${SIDECHAIN_KEY_PASSWORD_FILE:-}" ] && [ -f "$secret" ]; then
  export SIDECHAIN_KEY_PASSWORD_FILE="$secret"
fi

if [ "${1:-}" = "anvil" ]; then
  shift
  exec "${SIDECHAIN_ANVIL_BIN:-$APP_DIR/anvil}" "$@"
fi

if [ "${1:-}" = "node" ]; then
  datadir=""
  previous=""
  for arg in "$@"; do
    case "$arg" in --datadir=*) datadir="${arg#--datadir=}" ;; esac
    if [ "$previous" = "--datadir" ]; then datadir="$arg"; fi
    previous="$arg"
  done
  if [ -n "${SIDECHAIN_NODE_KEY_FILE:-}" ] && [ -n "$datadir" ] && [ ! -f "$datadir/nodekey" ]; then
    mkdir -p "$datadir"
    cp "$SIDECHAIN_NODE_KEY_FILE" "$datadir/nodekey"
    chmod 600 "$datadir/nodekey"
  fi
  if [ -n "${SIDECHAIN_BOOTNODES_FILE:-}" ]; then
    bootnodes="$(tr -d ' \n' < "$SIDECHAIN_BOOTNODES_FILE")"
    if [ -n "$bootnodes" ]; then set -- "$@" --bootnodes "$bootnodes"; fi
  fi
fi

# exec: the node process receives SIGTERM from `docker stop` directly and shuts down cleanly.
exec "$NODE_BIN" --max-semi-space-size=64 "$APP_DIR/chain/cli/main.ts" "$@"
