#!/bin/sh
# Debian's redis-server without a config file listens everywhere in protected mode, which refuses the
# other containers; the upstream image turns protected mode off. Do the same, keep the caller's args.
set -eu
if [ "${1:-}" = "redis-server" ]; then
  shift
  exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
fi
exec "$@"
