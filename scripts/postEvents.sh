#!/usr/bin/env bash
# Posts every *.json file of a folder to the relay with curl --fail; stops at the first failure.
set -euo pipefail
dir="${1:-examples/events}"
url="${2:-http://localhost:3000/notifications}"
for f in "$dir"/*.json; do
  printf '%s: ' "$f"
  curl --fail -sS -H 'content-type: application/json' --data-binary @"$f" "$url"
  echo
done
