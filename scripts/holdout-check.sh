#!/usr/bin/env bash
# holdout-check.sh - check dockscope against real engines on stores its tests have never seen.
#
#   scripts/holdout-check.sh [--seed N] [--out DIR] [--engines "20.10 26 26c"]
#
# Captures one store per engine with scripts/capture-fixture.sh --extra-seed (the usual scenario
# plus eight containers whose file and log operations are drawn at random from the seed), then
# runs the whole oracle tier (diff, export, logs, inspect, volumes, networks, verify, save …)
# against those captures instead of fixtures/. Needs root and ../shared/docker-lab; about two
# minutes per engine. The seed defaults to the time, so every run is a new store; a failure
# names the seed, so it can be replayed.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=$(date +%s) OUT='' ENGINES='20.10 26 26c'
while [ $# -gt 0 ]; do
  case $1 in
    --seed) SEED=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --engines) ENGINES=$2; shift 2;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2;;
  esac
done
OUT=${OUT:-$(mktemp -d /tmp/dockscope-holdout-XXXXXX)}
mkdir -p "$OUT"
echo "holdout: seed $SEED, captures in $OUT" >&2
port=5620
for e in $ENGINES; do
  port=$((port + 1))
  case $e in
    20.10) args=(--engine 20.10) name=overlay2-20.10-holdout;;
    26) args=(--engine 26) name=overlay2-26-holdout;;
    26c) args=(--engine 26 --containerd-store) name=containerd-26-holdout;;
    *) echo "unknown engine $e" >&2; exit 2;;
  esac
  bash scripts/capture-fixture.sh "${args[@]}" --out "$OUT/$name" --dir "/tmp/dshold$port" --addr "127.0.0.1:$port" --extra-seed "$SEED" > "$OUT/$name.log" 2>&1 \
    || { echo "capture $name failed: see $OUT/$name.log" >&2; exit 1; }
done
npx tsc -p .
DOCKSCOPE_FIXTURES=$OUT node --test --test-reporter=spec dist/test/oracle/*.test.js || { echo "holdout: FAILED with seed $SEED ($OUT)" >&2; exit 1; }
echo "holdout: every oracle holds on seed $SEED" >&2
