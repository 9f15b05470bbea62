#!/usr/bin/env bash
# Run the three example services in the foreground; Ctrl-C (or SIGTERM) stops all three.
#   PYTHON  the interpreter to use (default python3); it needs Flask
#   HOST    the address to listen on (default 127.0.0.1)
set -euo pipefail

python="${PYTHON:-python3}"
host="${HOST:-127.0.0.1}"
services_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services"
names=(upper reverse space_counter)
ports=(5001 5002 5003)
pids=()

stop_services() {
    trap - EXIT INT TERM
    if ((${#pids[@]})); then
        echo "Stopping the example services..."
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Poll /healthcheck until it answers, giving up if the process dies or after about 10 seconds.
wait_until_healthy() {
    local pid="$1" url="$2"
    for _ in $(seq 50); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "The service behind $url exited before answering." >&2
            return 1
        fi
        if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
            "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "$url did not answer in time." >&2
    return 1
}

for i in "${!names[@]}"; do
    HOST="$host" PORT="${ports[i]}" "$python" "$services_dir/${names[i]}/app.py" &
    pids+=("$!")
done

for i in "${!names[@]}"; do
    wait_until_healthy "${pids[i]}" "http://$host:${ports[i]}/healthcheck"
done

echo
for i in "${!names[@]}"; do
    printf '%-14s http://%s:%s/event\n' "${names[i]}" "$host" "${ports[i]}"
done
echo "All three answer /healthcheck. Press Ctrl-C to stop them."

# Should one service stop on its own, stop the others with it.
status=0
wait -n || status=$?
echo "An example service stopped (exit status $status)." >&2
exit "$status"
