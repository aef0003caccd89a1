#!/usr/bin/env bash
# Ferry's benchmark suite in one command: builds `ferry` and `ferry-bench` in release mode, then
# runs `ferry-bench` with the given arguments (default: `all`). Everything stays on 127.0.0.1.
#   bench/run.sh                                  # every workload, SQLite then PostgreSQL
#   bench/run.sh webhook-async --duration 5 --clients 8,32
#   bench/run.sh all --json bench/last.json --peer n8n
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p ferry-cli -p ferry-bench
if [ $# -eq 0 ]; then set -- all; fi
exec target/release/ferry-bench "$@"
