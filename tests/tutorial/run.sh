#!/usr/bin/env bash
# Starts `ferry serve` (SQLite, temporary data directory, a free loopback port) and runs the
# customer-sync tutorial's Python code against it. Needs `pip install 'gql[requests]'` and a
# built binary (target/debug/ferry, or FERRY_BIN).
set -euo pipefail
cd "$(dirname "$0")/../.."
ferry="${FERRY_BIN:-target/debug/ferry}"
data_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
FERRY_LOG=warn "$ferry" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data_dir"' EXIT
ready() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "http://127.0.0.1:$port/healthz" 2>/dev/null
}
for _ in $(seq 1 200); do
    [ -s "$data_dir/owner.token" ] && ready && break
    sleep 0.1
done
ready || { echo "FAIL: ferry serve did not become ready on port $port" >&2; exit 1; }
FERRY_API_URL="http://127.0.0.1:$port/api/" \
FERRY_API_KEY="$(FERRY_DATA_DIR="$data_dir" "$ferry" me:token)" \
    python3 tests/tutorial/customer_sync.py
