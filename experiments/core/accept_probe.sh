#!/bin/bash
# The coro accept queue at 5000 clients (issue 13, section 6): how long connections wait unaccepted.
#
# Starts `coro` from CHECKOUT (delay 50 ms, backlog 16384), opens 5000 closed-loop connections with
# the C load generator at once, and samples the listening socket's Recv-Q (connections the kernel
# completed but the server has not accepted) every 0.4 s for 8 s; then cload's figures.
# The server and cload share the machine's cores.
#
#   experiments/core/accept_probe.sh /tmp/server-old 1 /tmp/server-ref/cload
set -euo pipefail
checkout=$1 threads=$2 cload=$3
python=${PYTHON:-$(dirname "$0")/../../.venv/bin/python}
python=$(realpath -s "$python")  # -s: a venv's python is a symlink to the bare interpreter
out=$(mktemp -d)
cd /tmp  # so that PYTHONPATH, not the current directory, chooses the checkout
PYTHONPATH=$checkout "$python" -m seatlab.server --backend coro --port 0 --threads "$threads" \
    --capacity 100000 --delay 50 --max-backlog 16384 >"$out/ready" 2>"$out/stderr" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$out"' EXIT  # the server never outlives the script
for _ in $(seq 100); do grep -qs READY "$out/ready" && break; sleep 0.1; done
port=$(awk '{print $3}' "$out/ready")
if [ -z "$port" ]; then echo "the server did not start:" >&2; cat "$out/stderr" >&2; exit 1; fi
"$cload" -p "$port" -c 5000 -t 2 -w 2 -d 6 -m refill >"$out/cload" &
load=$!
queue=""
for _ in $(seq 20); do
    sleep 0.4
    queue="$queue $(ss -ltnH "sport = :$port" | awk '{print $2}')"
done
wait $load
echo "$checkout threads=$threads accept queue every 0.4 s:$queue"
tail -1 "$out/cload" | "$python" -c "import json, sys; d = json.load(sys.stdin); \
print({k: d[k] for k in ('rps', 'answers', 'dead_conns', 'p50_us', 'p99_us', 'p999_us', 'io_errors')})"
kill $server
wait $server || true
