#!/bin/bash
# MongoDB as a one-member replica set with authentication. A replica set with users needs a key
# file for its members to authenticate one another: with a single member, a new random one at
# each start will do. Then the image's own entry point (which creates the root user from
# MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD, and runs init-app-user.js, on a new
# volume only).
set -euo pipefail
keyfile=/tmp/replica-set.key
head -c 756 /dev/urandom | base64 -w 0 > "$keyfile"
chmod 400 "$keyfile"
chown mongodb:mongodb "$keyfile"
exec docker-entrypoint.sh mongod --replSet rs0 --bind_ip_all --keyFile "$keyfile"
