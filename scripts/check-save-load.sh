#!/usr/bin/env bash
# Proves `dockscope save` against a real engine: saves every tagged image of a fixture archive,
# `docker load`s each into a fresh docker-lab engine, and checks the engine reports the same image
# ID and rootfs. Needs root and ../shared/docker-lab (see its README). Usage:
#   scripts/check-save-load.sh fixtures/overlay2-20.10/data-root.tar.gz [--engine 20.10|26]
set -euo pipefail
archive=$(realpath "$1"); engine=${3:-20.10}
here=$(cd "$(dirname "$0")/.." && pwd)
lab="$here/../shared/docker-lab/lab.sh"
dir=/tmp/dscsl; out=$(mktemp -d)
trap '"$lab" clean --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
"$lab" clean --dir "$dir" >/dev/null 2>&1 || true
eval "$("$lab" start --engine "$engine" --dir "$dir" --addr 127.0.0.1:5611)"
ds() { node "$here/bin/dockscope.js" --root "$archive" "$@"; }
fail=0
for ref in $(ds images --json | node -e 'for (const i of JSON.parse(require("fs").readFileSync(0))) for (const t of i.RepoTags) console.log(t)'); do
  want=$(ds image "$ref" --json | node -e 'const i=JSON.parse(require("fs").readFileSync(0)); console.log(i.Id, i.RootFS.Layers.join(","))')
  f="$out/$(echo "$ref" | tr '/:@' '___').tar"
  ds save "$ref" -o "$f" >/dev/null
  docker load -i "$f" >/dev/null
  got=$(docker image inspect "$ref" | node -e 'const [i]=JSON.parse(require("fs").readFileSync(0)); console.log(i.Id, i.RootFS.Layers.join(","))')
  if [ "$got" = "$want" ]; then echo "ok   $ref ${want%% *}"; else echo "FAIL $ref: engine has $got, evidence $want"; fail=1; fi
  docker rmi -f "$ref" >/dev/null
done
exit $fail
