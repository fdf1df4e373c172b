#!/usr/bin/env bash
# Start a js-ipfs test node on loopback only and return once it is ready.
#
#   run-node.sh REPO_DIR API_PORT SWARM_PORT
#
# RPC API on 127.0.0.1:API_PORT, gateway on API_PORT+2, gRPC on API_PORT+3, swarm on
# 127.0.0.1:SWARM_PORT (TCP only). No bootstrap peers, no MDNS, no preload, no
# NAT port mapping: the node never opens a non-loopback socket. Routing.Type is
# dhtserver so IPNS records published on one node resolve on connected nodes.
#
# The repository lives in REPO_DIR/repo (reused if it exists, with its addresses
# rewritten), the daemon log in REPO_DIR/daemon.log. On success it prints
#   api /ip4/127.0.0.1/tcp/API_PORT
#   pid N          (the daemon's own pid: `kill N` stops it)
#   peer PEERID
#   swarm /ip4/127.0.0.1/tcp/SWARM_PORT/p2p/PEERID
# and leaves the daemon running detached. On failure it prints the log and exits 1.
# With RUN_NODE_OWNER_PID=P the daemon is also stopped when process P ends.
# Usage errors exit 2; a missing installation exits 3.
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 REPO_DIR API_PORT SWARM_PORT" >&2
    exit 2
fi
for port in "$2" "$3"; do
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65532 ]; then
        echo "error: bad port: $port" >&2
        exit 2
    fi
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cli="$here/node_modules/ipfs/src/cli.js"
if [ ! -f "$cli" ]; then
    echo "error: js-ipfs test node not installed: run npm install in tests/ipfs_node" >&2
    exit 3
fi
if ! command -v node >/dev/null 2>&1; then
    echo "error: node (Node.js 20) is not on PATH" >&2
    exit 3
fi

mkdir -p "$1"
base="$(cd "$1" && pwd)"
api_port="$2"
swarm_port="$3"
export IPFS_PATH="$base/repo"
log="$base/daemon.log"
ready_timeout="${RUN_NODE_READY_TIMEOUT:-120}"

# Loopback-only configuration (see DESIGN.md, "A real node for tests").
write_config() {
    # $1: file to write, or to update in place when it already exists
    node - "$1" "$api_port" "$swarm_port" <<'JS'
const fs = require('fs')
const [file, api, swarm] = process.argv.slice(2)
const conf = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {}
const host = '/ip4/127.0.0.1/tcp/'
conf.Addresses = {
  ...(conf.Addresses || {}),
  API: host + api,
  Gateway: host + (Number(api) + 2),
  RPC: host + (Number(api) + 3),
  Swarm: [host + swarm],
  Announce: [],
  NoAnnounce: [],
  Delegates: []
}
conf.Bootstrap = []
conf.Discovery = { ...(conf.Discovery || {}), MDNS: { Enabled: false }, webRTCStar: { Enabled: false } }
conf.Swarm = { ...(conf.Swarm || {}), DisableNatPortMap: true }
conf.Routing = { ...(conf.Routing || {}), Type: 'dhtserver' }
fs.writeFileSync(file, JSON.stringify(conf, null, 2))
JS
}

if [ -f "$IPFS_PATH/config" ]; then
    write_config "$IPFS_PATH/config"
else
    write_config "$base/init-config.json"
    if ! node "$cli" init --emptyRepo "$base/init-config.json" >"$base/init.log" 2>&1; then
        echo "error: jsipfs init failed in $IPFS_PATH" >&2
        cat "$base/init.log" >&2
        exit 1
    fi
fi

: >"$log"
# setsid: the daemon gets its own session, so it outlives this script and the
# caller's terminal; `node` is exec'd directly, so $! is the daemon's own pid.
setsid node "$cli" daemon --enable-preload=false </dev/null >>"$log" 2>&1 &
pid=$!

fail() {
    echo "error: $1" >&2
    echo "---- $log ----" >&2
    cat "$log" >&2
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || exit 1; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    exit 1
}

deadline=$((SECONDS + ready_timeout))
until grep -q "Daemon is ready" "$log"; do
    kill -0 "$pid" 2>/dev/null || fail "the js-ipfs daemon exited before it was ready"
    # A port already taken is logged but does not stop the daemon: fail fast.
    if grep -qE "EADDRINUSE|EACCES" "$log"; then fail "a port is not free"; fi
    [ "$SECONDS" -lt "$deadline" ] || fail "the js-ipfs daemon was not ready within ${ready_timeout}s"
    sleep 0.1
done

# RUN_NODE_OWNER_PID: stop the daemon when that process (a test run) ends, even if
# it is killed before its own cleanup runs.
owner="${RUN_NODE_OWNER_PID:-}"
if [ -n "$owner" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
                    kill "$2" 2>/dev/null' watch "$owner" "$pid" </dev/null >/dev/null 2>&1 &
fi

peer="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Identity.PeerID)' "$IPFS_PATH/config")"
echo "api /ip4/127.0.0.1/tcp/$api_port"
echo "pid $pid"
echo "peer $peer"
echo "swarm /ip4/127.0.0.1/tcp/$swarm_port/p2p/$peer"
