#!/usr/bin/env bash
# Run the Postman collection against a running Machinery API with Newman.
#
#   tests/newman/run-newman.sh [newman options...]
#
#   MACHINERY_URL      the API to test (default: base_url in the environment, http://127.0.0.1:5000)
#   MACHINERY_API_KEY  a management key, sent as 'Authorization: Bearer <key>'; unset or empty
#                      for an API with no keys configured
#   NEWMAN             the newman command to use (default: newman 6 through npx, fetched on demand)
#
# The API and the three example services (examples/run-services.sh) must be running.
# Extra arguments go to `newman run`, e.g. --reporters cli,junit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

collection="postman/Machinery.postman_collection.json"
environment="postman/Machinery - Local.postman_env.json"

if [[ -n "${NEWMAN:-}" ]]; then
    read -r -a newman <<< "$NEWMAN"
else
    if ! command -v npx >/dev/null 2>&1; then
        echo "npx was not found: install Node.js (18 or later), or set NEWMAN." >&2
        exit 1
    fi
    newman=(npx --yes newman@6)
fi

args=(run "$collection" -e "$environment" --bail)
if [[ -n "${MACHINERY_URL:-}" ]]; then
    args+=(--env-var "base_url=${MACHINERY_URL%/}")
fi
if [[ -n "${MACHINERY_API_KEY:-}" ]]; then
    args+=(--env-var "api_key=${MACHINERY_API_KEY}")
fi

exec "${newman[@]}" "${args[@]}" "$@"
