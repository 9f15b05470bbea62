#!/usr/bin/env bash
# Run a MongoDB for development in a background container, machinery-mongo, on 127.0.0.1:27017.
#
#   ./run-background-service.sh          start it (or start again the stopped one)
#   ./run-background-service.sh --stop   stop it; its data stays in the volume machinery-mongo-data
#
# Then point Machinery at it: export MONGO_URI=mongodb://127.0.0.1:27017
set -euo pipefail

name=machinery-mongo
volume=machinery-mongo-data
image=mongo:7
uri=mongodb://127.0.0.1:27017

# "true" or "false" for a container of that name, nothing when there is none.
running() {
  docker container inspect --format '{{.State.Running}}' "$name" 2>/dev/null || true
}

case "${1:-}" in
  "") ;;
  --stop)
    if [[ "$(running)" == true ]]; then
      docker stop "$name" >/dev/null
      echo "$name stopped (data kept in the volume $volume)."
    else
      echo "$name was not running."
    fi
    exit 0 ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown option: $1 (see $0 --help)" >&2; exit 2 ;;
esac

if ! docker info >/dev/null 2>&1; then
  echo "Cannot reach the Docker engine: is it running?" >&2
  exit 1
fi

case "$(running)" in
  true) echo "$name is already running." ;;
  false) docker start "$name" >/dev/null; echo "$name started again." ;;
  *)
    # Published on the loopback only: this MongoDB has no authentication.
    docker run -d --name "$name" -p 127.0.0.1:27017:27017 -v "$volume:/data/db" "$image" >/dev/null
    echo "$name created from $image, data in the volume $volume." ;;
esac

for _ in $(seq 1 60); do
  if docker exec "$name" mongosh --quiet --eval "db.adminCommand('ping').ok" >/dev/null 2>&1; then
    echo "MongoDB answers. Point Machinery at it with:"
    echo "  export MONGO_URI=$uri"
    exit 0
  fi
  sleep 0.5
done
echo "MongoDB did not answer within 30 s; see: docker logs $name" >&2
exit 1
