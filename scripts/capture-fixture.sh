#!/usr/bin/env bash
# capture-fixture.sh - capture a real Docker data root + engine oracles as a dockscope fixture.
#
#   scripts/capture-fixture.sh --engine 20.10|26 [--containerd-store] --out fixtures/<name>
#                              [--dir /tmp/dsfxNN] [--addr 127.0.0.1:PORT] [--lab PATH/lab.sh]
#                              [--extra-seed N]
#
# Starts a private lab engine with /work/shared/docker-lab/lab.sh (override with --lab or
# $LAB_SH), plays ONE scenario (the same for every engine where possible), takes the
# oracles (raw Engine API JSON via curl on the unix socket + CLI text), archives the data
# root with `lab.sh archive` and cleans the lab (set KEEP_LAB=1 to keep it for debugging).
#
# Defaults: --engine 20.10 -> --dir /tmp/dsfx20, registry 127.0.0.1:5601
#           --engine 26    -> --dir /tmp/dsfx26, registry 127.0.0.1:5602
#           --engine 26 --containerd-store -> --dir /tmp/dsfxcd, registry 127.0.0.1:5603
# The lab dir ends up inside the fixture (20.10: data root /tmp/dsfx20/host/var/lib/docker;
# 26: /var/lib/docker inside the chroot /tmp/dsfx26/trixie).
#
# Output (all regenerated on every run; nothing else in --out is touched):
#   <out>/data-root.tar.gz, <out>/data-root.tar.gz.verify.txt, <out>/README.md, <out>/oracles/
# --extra-seed N adds containers ho-1..ho-8 whose file and log operations are drawn at random
# from N: a store this project's tests have never seen, for checking dockscope against the
# engine (DOCKSCOPE_FIXTURES=<parent of --out> node --test dist/test/oracle/*.test.js).
# Must run as root. No internet: every run/create uses --pull never, containers --network none.
set -euo pipefail
export LC_ALL=C TZ=UTC DOCKER_BUILDKIT=0
unset DOCKER_CONTEXT

ENGINE='' C8D=0 OUT='' D='' ADDR='' LAB=${LAB_SH:-/work/shared/docker-lab/lab.sh} EXTRA_SEED=''
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --engine) ENGINE=$2; shift 2;;
    --containerd-store) C8D=1; shift;;
    --out) OUT=$2; shift 2;;
    --dir) D=$2; shift 2;;
    --addr) ADDR=$2; shift 2;;
    --lab) LAB=$2; shift 2;;
    --extra-seed) EXTRA_SEED=$2; shift 2;;
    -h|--help) usage 0;;
    *) echo "unknown argument: $1" >&2; usage;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
[ -n "$OUT" ] || usage
case $ENGINE in
  20.10) [ "$C8D" = 0 ] || { echo "--containerd-store needs --engine 26" >&2; exit 2; }
         D=${D:-/tmp/dsfx20} ADDR=${ADDR:-127.0.0.1:5601};;
  26) if [ "$C8D" = 1 ]; then D=${D:-/tmp/dsfxcd} ADDR=${ADDR:-127.0.0.1:5603}
      else D=${D:-/tmp/dsfx26} ADDR=${ADDR:-127.0.0.1:5602}; fi;;
  *) usage;;
esac
REG=$ADDR
START_ARGS=(--engine "$ENGINE" --dir "$D" --addr "$ADDR"); [ "$C8D" = 1 ] && START_ARGS+=(--containerd-store)
STORE=overlay2; [ "$C8D" = 1 ] && STORE=containerd

mkdir -p "$OUT"; OUT=$(realpath -- "$OUT"); ORA=$OUT/oracles
RUNLOG=$ORA/scenario.log NOTES=$ORA/notes.txt

log() { printf '[capture %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$RUNLOG" >&2; }
note() { printf -- '- %s\n' "$*" >> "$NOTES"; log "NOTE: $*"; }
# run a command, its output (stdout+stderr) goes to the scenario log only
q() { printf '$ %s\n' "$*" >> "$RUNLOG"; "$@" >> "$RUNLOG" 2>&1; }

cleanup() {
  local rc=$?
  if [ "${KEEP_LAB:-0}" = 1 ]; then log "KEEP_LAB=1: lab left running in $D"; else "$LAB" clean --dir "$D" >&2 || true; fi
  [ $rc = 0 ] || log "FAILED (rc=$rc); see $RUNLOG"
}

# ------------------------------------------------------------------ fresh start
if [ -d "$D" ]; then echo "[capture] removing previous lab $D" >&2; "$LAB" clean --dir "$D" >&2; fi
rm -rf -- "$ORA" "$OUT/data-root.tar.gz" "$OUT/data-root.tar.gz.verify.txt" "$OUT/README.md"
mkdir -p "$ORA"; : > "$RUNLOG"; : > "$NOTES"
trap cleanup EXIT

log "engine $ENGINE store $STORE lab $D registry $REG out $OUT"
eval "$("$LAB" start "${START_ARGS[@]}")"
export DOCKER_HOST DOCKER_CONFIG
SOCK=${DOCKER_HOST#unix://}
"$LAB" registry start --dir "$D" --addr "$ADDR" >&2

# Paths as the daemon sees them (engine 26 lives in a chroot).
if [ "$ENGINE" = 26 ]; then
  SRV_HOST=$LAB_CHROOT/srv/fx SRV=/srv/fx DSOCK=/run/docker.sock ORIG_ROOT=/var/lib/docker
  CTR=(chroot "$LAB_CHROOT" ctr -n moby)
else
  SRV_HOST=$D/srv SRV=$D/srv DSOCK=$SOCK ORIG_ROOT=$LAB_DATA_ROOT
  CTR=(ctr --address "$D/host/run/docker/containerd/containerd.sock" -n moby)
fi
mkdir -p "$SRV_HOST/bind/sub" "$SRV_HOST/hostroot/etc"
echo "read-only bind source" > "$SRV_HOST/bind/readme.txt"; echo inner > "$SRV_HOST/bind/sub/f"
echo "fake-host" > "$SRV_HOST/hostroot/etc/hostname"

RUN=(--pull never --network none)
cid() { docker inspect -f '{{.Id}}' "$1"; }
iid() { docker image inspect -f '{{.Id}}' "$1"; }
build() { # TAG  (Dockerfile on stdin, no context)
  local tag=$1; log "build $tag"
  printf '$ docker build --network none -t %s -\n' "$tag" >> "$RUNLOG"
  docker build --network none -t "$tag" - >> "$RUNLOG" 2>&1
}
runwait() { # NAME ARGS... : run detached, wait, return nothing (exit code is in the state)
  local name=$1; shift
  q docker run -d "${RUN[@]}" --name "$name" "$@" || return 1
  printf 'exit code of %s: %s\n' "$name" "$(docker wait "$name")" >> "$RUNLOG"
}

# ================================================================== scenario
# ---- base image: imported busybox rootfs, several tags
"$LAB" rootfs "$D/rootfs.tar" 2>> "$RUNLOG"
log "import fx/base:1"
q docker import -m 'fixture base' -c 'CMD ["/bin/sh"]' "$D/rootfs.tar" fx/base:1
q docker tag fx/base:1 fx/base:latest
q docker tag fx/base:1 localhost/fx/other:v1

# ---- fx/app:1 - one feature per RUN (classic builder: one layer + one intermediate image each)
build fx/app:1 <<'EOF'
FROM fx/base:1
ENV APP_MODE=fixture APP_HOME=/data
LABEL org.example.role="app" org.example.version="1"
WORKDIR /data
RUN mkdir -p /data/sub /opt/old/inner /opt/redo /opt/mvdir && echo one > /data/a && echo keep > /data/sub/k && echo old > /opt/old/inner/f && echo redo > /opt/redo/f && echo mv > /opt/mvdir/f && rm /etc/motd
RUN rm -rf /home/user && mkdir /home/user && echo x > /home/user/new && chown -R 1000:1000 /home/user
RUN mv /data/a /data/a2
RUN echo linked > /data/hl-src && ln /data/hl-src /data/hl && ln -s a2 /data/sym && ln -s /etc/passwd /data/abs-sym
RUN chmod 0600 /etc/os-release
EXPOSE 8080/tcp
CMD ["/bin/sh", "-c", "echo app"]
EOF

# ---- fx/app:2 shares all layers of fx/app:1
build fx/app:2 <<'EOF'
FROM fx/app:1
LABEL org.example.version="2"
RUN echo v2 > /data/v2
EOF

# ---- dangling image: fx/tmp:1 built twice, the first build becomes <none>:<none>
build fx/tmp:1 <<'EOF'
FROM fx/base:1
RUN echo first > /tmp-marker
EOF
DANGLING_ID=$(iid fx/tmp:1)
build fx/tmp:1 <<'EOF'
FROM fx/base:1
RUN echo second > /tmp-marker
EOF

# ---- registry round trip: push fx/app:1, drop the registry tag, pull it back (RepoDigests)
log "push/pull via $REG"
q docker tag fx/app:1 "$REG/fx/app:1"
q docker push "$REG/fx/app:1"
q docker rmi "$REG/fx/app:1"
q docker pull "$REG/fx/app:1"
# ---- a pull-only single-layer image: import, push, delete every local copy, pull
mkdir -p "$D/single/etc" "$D/single/usr/share/single"
echo "single-layer image, pulled from the lab registry" > "$D/single/etc/single-release"
printf 'hello from fx/single\n' > "$D/single/usr/share/single/hello.txt"
find "$D/single" -exec touch -h -d '2024-01-02T00:00:00Z' {} +
tar --sort=name --numeric-owner --owner=0 --group=0 --format=pax --pax-option=delete=atime,delete=ctime \
  -C "$D/single" -cf "$D/single.tar" .
q docker import -m 'single layer' -c 'CMD ["/hello"]' "$D/single.tar" fx/single:1
q docker tag fx/single:1 "$REG/fx/single:1"
q docker push "$REG/fx/single:1"
SINGLE_LOCAL_ID=$(iid fx/single:1)
q docker rmi fx/single:1 "$REG/fx/single:1"
if docker image inspect "$SINGLE_LOCAL_ID" > /dev/null 2>&1; then note "fx/single:1 image $SINGLE_LOCAL_ID still present after rmi of all its tags"; fi
q docker pull "$REG/fx/single:1"

# ---- docker commit: image with Parent/Container/Comment/Author
runwait committer fx/base:1 sh -c 'echo committed > /committed.txt && rm /etc/os-release'
log "commit committer -> fx/committed:1"
q docker commit -a 'Fixture Author <fx@example.invalid>' -m 'fixture commit message' \
  -c 'ENV COMMITTED=yes' committer fx/committed:1

# ---- containers in every state
log "containers"
q docker create "${RUN[@]}" --name created fx/app:1
q docker run -d "${RUN[@]}" --name running fx/app:1 sleep 3600
q docker run -d "${RUN[@]}" --name paused fx/app:1 sleep 3600
q docker pause paused
runwait exit0 fx/base:1 sh -c 'echo bye; exit 0'
runwait exit3 fx/base:1 sh -c 'echo failing >&2; exit 3'
runwait oldname fx/base:1 sh -c 'echo I was oldname'
q docker rename oldname renamed

# ---- volumes: named, anonymous, read-only bind, tmpfs (+ an unused named volume)
q docker volume create --label fx.purpose=unused unusedvol
runwait vols -v vol1:/vol -v /anon -v "$SRV/bind:/bind:ro" --tmpfs /scratch:rw,size=1m fx/base:1 \
  sh -c 'echo named > /vol/file; echo anon > /anon/file; cat /bind/readme.txt; echo t > /scratch/t; echo root > /in-rootfs'

# ---- changes: every kind of filesystem change in one container upper dir
runwait changes fx/app:1 sh -c '
set -e
echo new > /added.txt
mkdir /newdir && echo nested > /newdir/file
echo changed >> /data/sub/k
rm /home/user/new
rm -rf /opt/old
rm -rf /opt/redo && mkdir /opt/redo && echo recreated > /opt/redo/g
mv /data/a2 /data/a3
mv /opt/mvdir /opt/mvdir2
chmod 0640 /etc/group
ln /added.txt /added-hardlink.txt
ln -s /etc/passwd /passwd-link
mkdir -p /usr/local/bin /usr/local/sbin
printf "#!/bin/sh\nid\n" > /usr/local/sbin/suidtool && chmod 4755 /usr/local/sbin/suidtool
printf "#!/bin/sh\necho mining\n" > /usr/local/bin/xmrig && chmod 0755 /usr/local/bin/xmrig
mkdir -p /root/.ssh && chmod 0700 /root/.ssh
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureFixtureFixtureFixtureFixtureFixture fx@example.invalid" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
mkdir -p /etc/cron.d && echo "* * * * * root /usr/local/bin/xmrig" > /etc/cron.d/x
echo "backdoor:x:0:0::/root:/bin/sh" >> /etc/passwd
echo done'

# ---- logs: json-file with rotation+compression, default json-file, local driver
LOGSCRIPT='echo "start stdout"; echo "start stderr" >&2
i=0; while [ $i -lt 150 ]; do echo "out line $i"; echo "err line $i" >&2; i=$((i+1)); done
head -c 20000 /dev/zero | tr "\0" L; echo
printf "\033[31mred ansi\033[0m\n"; printf "cr\rinside\n"
echo "end stdout"; echo "end stderr" >&2; printf "no trailing newline"'
runwait logs --log-opt max-size=2k --log-opt max-file=3 --log-opt compress=true fx/base:1 sh -c "$LOGSCRIPT"
runwait logs-default fx/base:1 sh -c "$LOGSCRIPT"
LOCAL_LOGS=1
if ! runwait logs-local --log-driver local fx/base:1 sh -c "$LOGSCRIPT"; then
  LOCAL_LOGS=0; note "--log-driver local failed on this engine; container logs-local skipped"
  docker rm -f logs-local >/dev/null 2>&1 || true
fi

# ---- risky: everything an investigator should flag.
# `risky` is only created (never started): it publishes a port on the default bridge, which
# this lab does not have (--bridge none), and binds the real / of the daemon.
RISKY_COMMON=(--privileged -v "$DSOCK:/var/run/docker.sock" --pid host --cap-add SYS_ADMIN
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined --restart always
  -e AWS_SECRET_ACCESS_KEY=fakeSecret123)
RISKY_MODE="created with -p 0.0.0.0:8080:80 --network bridge and -v /:/host:ro"
if ! q docker create --pull never --name risky "${RISKY_COMMON[@]}" -v /:/host:ro \
     -p 0.0.0.0:8080:80 --network bridge fx/base:1 sleep 3600; then
  RISKY_MODE="created with -v /:/host:ro and --network none (no -p: create with --network bridge failed)"
  note "docker create -p ... --network bridge failed; risky created without port publishing"
  q docker create "${RUN[@]}" --name risky "${RISKY_COMMON[@]}" -v /:/host:ro fx/base:1 sleep 3600
fi
# `risky-run` has the same settings but is started and left running (no port, lab dir as /host).
RISKYRUN_MODE=running
if ! q docker run -d "${RUN[@]}" --name risky-run "${RISKY_COMMON[@]}" -v "$SRV/hostroot:/host:ro" fx/base:1 sleep 3600; then
  RISKYRUN_MODE="failed to start (see scenario.log); left as created"
  note "risky-run could not be started"
fi

# ---- orphanimg: container whose image is then force-removed
build fx/gone:1 <<'EOF'
FROM fx/base:1
RUN echo gone > /gone-marker
EOF
GONE_ID=$(iid fx/gone:1)
runwait orphanimg fx/gone:1 sh -c 'echo orphan > /orphan.txt'
log "docker rmi -f fx/gone:1"
RMIF_OUT=$(docker rmi -f fx/gone:1 2>&1) || RMIF_OUT="$RMIF_OUT (exit status $?)"
printf '$ docker rmi -f fx/gone:1\n%s\n' "$RMIF_OUT" >> "$RUNLOG"
printf '%s\n' "$RMIF_OUT" > "$ORA/rmi-f-gone.txt"
if docker image inspect "$GONE_ID" >/dev/null 2>&1; then
  GONE_STATE="image $GONE_ID still exists (untagged: $(docker image inspect -f '{{json .RepoTags}}' "$GONE_ID"))"
else
  GONE_STATE="image $GONE_ID no longer exists; the container still references it"
fi
log "rmi -f result: $GONE_STATE"

# ---- removed objects: must not appear anywhere (except perhaps as freed space)
q docker create "${RUN[@]}" --name removed-ctr fx/base:1 true
REMOVED_CID=$(cid removed-ctr)
q docker rm removed-ctr
build fx/removed:1 <<'EOF'
FROM fx/base:1
RUN echo removed > /removed-marker
EOF
REMOVED_IID=$(iid fx/removed:1)
q docker rmi fx/removed:1

# ---- escaping: label with ANSI escape + newline, env var with a carriage return
q docker create "${RUN[@]}" --name evil \
  --label "evil=$(printf '\033[31mred\033[0m\nsecond line')" --label 'plain=ok' \
  -e "CR_VAR=$(printf 'before\rafter')" -e 'NORMAL=1' fx/base:1 true

# ---- random extra containers (--extra-seed): each draws 4-9 operations from the pool below
EXTRA_NAMES=''
if [ -n "$EXTRA_SEED" ]; then
  RANDOM=$EXTRA_SEED
  OPS=(
    'echo added-$RANDOM > /added-$RANDOM.txt'
    'mkdir -p /newtree/a/b && echo deep > /newtree/a/b/f && ln -s a/b /newtree/link'
    'echo appended >> /etc/passwd'
    'rm -f /etc/group'
    'rm -rf /usr/sbin'
    'rm -rf /var && mkdir -p /var/log && echo fresh > /var/log/x'
    'mv /etc/profile /etc/profile.moved 2>/dev/null || mv /etc/passwd /etc/passwd.moved'
    'cp /etc/passwd /etc/passwd.copy && chmod 0600 /etc/passwd.copy'
    'chmod 0700 /bin'
    'chown 1:1 /etc/shadow 2>/dev/null || chown 1:1 /etc/passwd'
    'touch -d 2020-01-01T00:00:00 /bin/busybox'
    'ln /bin/busybox /root/bb-hardlink'
    'ln -s /etc/shadow /tmp/shadow-link'
    'mkfifo /tmp/fifo-$RANDOM'
    'printf "#!/bin/sh\\nid\\n" > /usr/bin/suid-$RANDOM && chmod 4755 /usr/bin/suid-*'
    'mkdir -p /root/.ssh && echo "ssh-rsa AAAA x@y" >> /root/.ssh/authorized_keys'
    'echo ".hidden" > /.hidden-$RANDOM'
    'rm -rf /data/sub 2>/dev/null; rm -rf /home'
    'mkdir -p /opt/x && echo 1 > /opt/x/f && rm -rf /opt/x && mkdir /opt/x'
    'head -c $((RANDOM * 3)) /dev/urandom > /blob.bin'
    'i=0; while [ $i -lt $((RANDOM % 300)) ]; do echo "log out $i"; echo "log err $i" >&2; i=$((i+1)); done'
    'head -c $((16384 + RANDOM)) /dev/zero | tr "\\0" Z; echo'
    'printf "no newline at end"'
    'printf "\\033[32mgreen\\033[0m\\r\\n"'
  )
  for k in 1 2 3 4 5 6 7 8; do
    n=$((4 + RANDOM % 6)) script='' i=0
    while [ $i -lt $n ]; do script="$script${OPS[$((RANDOM % ${#OPS[@]}))]}; "; i=$((i+1)); done
    img=fx/base:1; [ $((RANDOM % 2)) = 0 ] && img=fx/app:1
    extra=(); case $((RANDOM % 4)) in
      0) extra=(--log-opt max-size=1k --log-opt max-file=4 --log-opt compress=true);;
      1) [ "$LOCAL_LOGS" = 1 ] && extra=(--log-driver local);;
    esac
    log "extra container ho-$k on $img: $script"
    runwait "ho-$k" "${extra[@]}" "$img" sh -c "$script true" || note "ho-$k failed to run"
    EXTRA_NAMES="$EXTRA_NAMES ho-$k"
  done
  note "extra containers from --extra-seed $EXTRA_SEED:$EXTRA_NAMES"
fi

# ================================================================== oracles
log "oracles"
api() { # PATH OUTFILE : raw Engine API response body (unversioned path = daemon's own API version)
  local code; mkdir -p "$(dirname "$2")"
  code=$(curl -s -o "$2" -w '%{http_code}' --unix-socket "$SOCK" "http://localhost$1") || code=curl-failed
  [ "$code" = 200 ] || note "API $1 answered $code: $(head -c 300 "$2" 2>/dev/null | tr '\n' ' ')"
}
api /version "$ORA/version.json"
api /info "$ORA/info.json"
api '/images/json?all=1&digests=1' "$ORA/images-all.json"
api /images/json "$ORA/images.json"
api '/containers/json?all=1' "$ORA/containers-all.json"
api '/containers/json?all=1&size=1' "$ORA/containers-all-size.json"
api /containers/json "$ORA/containers.json"
api /volumes "$ORA/volumes.json"
api /networks "$ORA/networks.json"
api /system/df "$ORA/system-df.json"

for id in $(jq -r '.[].Id' "$ORA/images-all.json"); do
  api "/images/$id/json" "$ORA/image-inspect/${id#sha256:}.json"
  api "/images/$id/history" "$ORA/image-history/${id#sha256:}.json"
done
mkdir -p "$ORA/docker-history"
for ref in $(jq -r '.[].RepoTags // [] | .[] | select(. != "<none>:<none>")' "$ORA/images-all.json" | sort -u); do
  docker history --no-trunc "$ref" > "$ORA/docker-history/$(echo "$ref" | tr '/:' '__').txt" 2>&1 || note "docker history $ref failed"
done
for v in $(jq -r '.Volumes[].Name' "$ORA/volumes.json"); do api "/volumes/$v" "$ORA/volume-inspect/$v.json"; done

mkdir -p "$ORA/logs" "$ORA/export" "$ORA/docker-diff"
jq -r '.[] | "\(.Id) \(.Names[0] | ltrimstr("/"))"' "$ORA/containers-all.json" | sort -k2 > "$ORA/.containers"
while read -r id name; do
  api "/containers/$id/json" "$ORA/container-inspect/$name.json"
  api "/containers/$id/changes" "$ORA/container-changes/$name.json"
  docker diff "$id" > "$ORA/docker-diff/$name.txt" 2>&1 || true
  docker logs "$id" > "$ORA/logs/$name.stdout" 2> "$ORA/logs/$name.stderr" || true
  docker logs --timestamps "$id" > "$ORA/logs/$name.ts.txt" 2>&1 || true
done < "$ORA/.containers"
for name in changes created orphanimg committer renamed $EXTRA_NAMES; do
  docker export "$name" > "$D/export.tar"
  tar --numeric-owner -tvf "$D/export.tar" > "$ORA/export/$name.txt"
  tar -tf "$D/export.tar" > "$ORA/export/$name.list"
done
rm -f "$D/export.tar"

docker images -a --no-trunc --digests > "$ORA/docker-images-a.txt"
docker images --no-trunc --digests > "$ORA/docker-images.txt"
docker ps -a --no-trunc > "$ORA/docker-ps-a.txt"
docker ps -a --no-trunc --format '{{json .}}' > "$ORA/docker-ps-a.jsonl"

# containerd's own view (engine 26: system containerd in the chroot; 20.10: dockerd-managed)
if "${CTR[@]}" version > /dev/null 2>&1; then
  mkdir -p "$ORA/ctr/snapshot-info"
  "${CTR[@]}" images ls > "$ORA/ctr/images-ls.txt" 2>&1 || true
  "${CTR[@]}" content ls > "$ORA/ctr/content-ls.txt" 2>&1 || true
  "${CTR[@]}" containers ls > "$ORA/ctr/containers-ls.txt" 2>&1 || true
  "${CTR[@]}" leases ls > "$ORA/ctr/leases-ls.txt" 2>&1 || true
  "${CTR[@]}" snapshots --snapshotter overlayfs ls > "$ORA/ctr/snapshots-overlayfs-ls.txt" 2>&1 || true
  "${CTR[@]}" version > "$ORA/ctr/version.txt" 2>&1 || true
  if [ "$C8D" = 1 ]; then
    while read -r id name; do
      for key in "$id" "$id-init"; do
        sfx=; [ "$key" = "$id" ] || sfx=-init
        "${CTR[@]}" snapshots --snapshotter overlayfs info "$key" > "$ORA/ctr/snapshot-info/$name$sfx.json" 2>&1 || true
      done
    done < "$ORA/.containers"
  fi
  rmdir "$ORA/ctr/snapshot-info" 2>/dev/null || true
else
  note "ctr could not reach containerd; no ctr oracles"
fi

# Log files as stored in the data root (read-only look, for the README)
while read -r id name; do
  find "$LAB_DATA_ROOT/containers/$id" -type f \( -name '*-json.log*' -o -name 'container.log*' -o -name '*cached.log*' \) \
    -printf "$name %s %P\n" | sort -k3
done < "$ORA/.containers" > "$ORA/log-files.txt"

# One line per image: what it is (for the README)
for id in $(jq -r '.[].Id' "$ORA/images-all.json"); do
  h=${id#sha256:}
  tags=$(jq -r --arg id "$id" '.[] | select(.Id == $id) | (.RepoTags // []) | map(select(. != "<none>:<none>")) | join(" ")' "$ORA/images-all.json")
  parent=$(jq -r --arg id "$id" '.[] | select(.Id == $id) | .ParentId // ""' "$ORA/images-all.json")
  by=$(jq -r '.[0] | (if (.CreatedBy // "") != "" then .CreatedBy else "(no CreatedBy; comment: " + (.Comment // "") + ")" end) | gsub("[|`\n]"; "_") | .[0:100]' "$ORA/image-history/$h.json" 2>/dev/null || true)
  printf '| `%s` | %s | %s | `%s` |\n' "${h:0:12}" "${tags:-<none>}" "${parent:+\`${parent:7:12}\`}" "$by"
done > "$ORA/.imagetable"

# State as persisted by the daemon (read directly from the data root, for the README)
PAUSED_STATE=$(jq -c .State "$LAB_DATA_ROOT/containers/$(cid paused)/config.v2.json")

# names.json: {containers:{name:id}, images:{ref:id}, special:{...}}
jq -n --slurpfile c "$ORA/containers-all.json" --slurpfile i "$ORA/images-all.json" \
  --arg dangling "$DANGLING_ID" --arg gone "$GONE_ID" --arg rid "$REMOVED_IID" --arg rcid "$REMOVED_CID" \
  --arg single "$SINGLE_LOCAL_ID" --arg lab "$D" --arg root "$ORIG_ROOT" --arg chroot "${LAB_CHROOT:-}" \
  --arg engine "$ENGINE" --arg store "$STORE" --arg reg "$REG" '{
    containers: ($c[0] | map({key: (.Names[0] | ltrimstr("/")), value: .Id}) | from_entries),
    images: ($i[0] | map(. as $im | ((.RepoTags // []) + (.RepoDigests // []))
                 | map(select(. != "<none>:<none>" and . != "<none>@<none>")) | map({key: ., value: $im.Id})) | add | from_entries),
    special: {
      dangling_first_fx_tmp_1: $dangling,
      force_removed_fx_gone_1: $gone,
      removed_image_fx_removed_1: $rid,
      removed_container_removed_ctr: $rcid,
      single_imported_before_push: $single,
      untagged_images: ($i[0] | map(select(((.RepoTags // []) | map(select(. != "<none>:<none>")) | length) == 0) | .Id))
    },
    lab: {engine: $engine, store: $store, lab_dir: $lab, data_root_in_archive: $root, chroot: $chroot, registry: $reg}
  }' > "$ORA/names.json"
rm -f "$ORA/.containers"
IMAGE_TABLE=$(cat "$ORA/.imagetable"); rm -f "$ORA/.imagetable"

# ================================================================== archive (nothing changes before this)
log "archive"
"$LAB" archive --dir "$D" --out "$OUT/data-root.tar.gz" > "$ORA/archive-summary.txt"
cat "$ORA/archive-summary.txt" >&2

# ---- sanity checks on the archive
TL=$D/archive-list.txt
tar -tzvf "$OUT/data-root.tar.gz" > "$TL"
{
  echo "# checks on data-root.tar.gz (tar -tzvf)"
  if [ "$C8D" = 1 ]; then
    printf 'containerd content blobs: %s\n' "$(grep -c 'var/lib/containerd/io.containerd.content.v1.content/blobs/sha256/.' "$TL" || true)"
    printf 'containerd overlayfs snapshots dirs: %s\n' "$(grep -Ec 'io.containerd.snapshotter.v1.overlayfs/snapshots/[0-9]+/$' "$TL" || true)"
  else
    printf 'image/overlay2 entries: %s\n' "$(grep -c 'var/lib/docker/image/overlay2/' "$TL" || true)"
    printf 'overlay2 layer dirs: %s\n' "$(grep -Ec 'var/lib/docker/overlay2/[^/]+/$' "$TL" || true)"
  fi
  printf 'container config.v2.json files: %s\n' "$(grep -c 'var/lib/docker/containers/[0-9a-f]*/config.v2.json$' "$TL" || true)"
  printf 'char devices (tar type c): %s\n' "$(grep -c '^c' "$TL" || true)"
  printf 'char devices 0,0 (whiteouts): %s\n' "$(grep -Ec '^c.* 0,0 ' "$TL" || true)"
} > "$ORA/archive-check.txt"
cat "$ORA/archive-check.txt" >&2
if [ "$C8D" = 1 ]; then grep -q 'var/lib/containerd/io.containerd.content.v1.content/blobs' "$TL" || { log "archive lacks the containerd content store"; exit 1; }
else grep -q 'var/lib/docker/image/overlay2/imagedb' "$TL" || { log "archive lacks image/overlay2"; exit 1; }; fi
grep -q 'var/lib/docker/containers/.*/config.v2.json' "$TL" || { log "archive lacks containers"; exit 1; }
grep -Eq '^c.* 0,0 ' "$TL" || { log "archive has no whiteout char devices"; exit 1; }
rm -f "$TL"

# ================================================================== README
WH=$(sed -n 's/^whiteouts: *//p' "$ORA/archive-summary.txt")
XA=$(sed -n 's/^xattrs: *//p' "$ORA/archive-summary.txt")
SERVER_VER=$(jq -r '.Version' "$ORA/version.json")
API_VER=$(jq -r '.ApiVersion' "$ORA/version.json")
CTRD_VER=$(jq -r '.Components[]? | select(.Name=="containerd") | .Version' "$ORA/version.json")
RUNC_VER=$(jq -r '.Components[]? | select(.Name=="runc") | .Version' "$ORA/version.json")
DRIVER=$(jq -r '.Driver' "$ORA/info.json")
if [ "$ENGINE" = 26 ]; then
  PATHS="\`var/lib/docker\`, \`var/lib/containerd\`, \`etc/docker/daemon.json\`, \`etc/containerd/config.toml\` (relative to the chroot \`$LAB_CHROOT\`)"
  ORIGTXT="The daemon ran in the chroot \`$LAB_CHROOT\`, so every path it recorded is a chroot path: data root **\`/var/lib/docker\`**, containerd root **\`/var/lib/containerd\`** (host paths \`$LAB_CHROOT/var/lib/docker\` and \`$LAB_CHROOT/var/lib/containerd\`). Bind sources are chroot paths too (\`$SRV/...\`, \`/run/docker.sock\`)."
else
  PATHS="\`var/lib/docker\` (relative to \`$D/host\`)"
  ORIGTXT="The data root was **\`$ORIG_ROOT\`** (dockerd \`--data-root\`); this exact path appears inside the fixture (\`GraphDriver.Data\`, \`LogPath\`, \`ResolvConfPath\`, volume \`Mountpoint\`s, …). Map it to \`<extract>/var/lib/docker\`. Exec root was \`$D/host/run/docker\` (not archived); the dockerd-managed containerd root is \`$ORIG_ROOT/containerd/daemon\`."
fi
{
cat <<EOF
# Fixture \`$(basename "$OUT")\`: Docker $SERVER_VER, $([ "$C8D" = 1 ] && echo "containerd image store" || echo "graphdriver $DRIVER")

Captured by \`scripts/capture-fixture.sh --engine $ENGINE$([ "$C8D" = 1 ] && echo ' --containerd-store') --out $(basename "$(dirname "$OUT")")/$(basename "$OUT")\` on $(date -u +%Y-%m-%dT%H:%M:%SZ)
with the docker-lab (\`lab.sh\`). Object IDs change on every run: always look them up in
\`oracles/names.json\`, never hard-code them from an older capture.

| | |
|---|---|
| engine | Docker $SERVER_VER (API $API_VER), containerd $CTRD_VER, runc $RUNC_VER |
| store | $([ "$C8D" = 1 ] && echo "containerd image store (snapshotter \`overlayfs\`, \`Driver\` = \`$DRIVER\`)" || echo "graphdriver \`$DRIVER\`") |
| lab dir | \`$D\` |
| original data root | \`$ORIG_ROOT\` |
| archive | \`data-root.tar.gz\`: $PATHS |
| acquisition | live (engine running; \`running\`, \`paused\`, \`risky-run\` were up), non-recursive bind mount, so overlay \`merged/\` dirs of running containers are present but empty |
| whiteouts | $WH |
| xattrs | $XA |
| registry | \`$REG\` (lab registry, loopback; not archived) |

$ORIGTXT

## Extracting

As root (char-device whiteouts need mknod, \`trusted.overlay.*\` xattrs need CAP_SYS_ADMIN):

    mkdir X && tar -C X --xattrs --xattrs-include='*' --numeric-owner -xzf data-root.tar.gz

\`data-root.tar.gz.verify.txt\` lists every char device and \`trusted.overlay.*\` xattr found after
such an extraction; \`oracles/archive-summary.txt\` is the summary printed by \`lab.sh archive\`,
\`oracles/archive-check.txt\` counts made with \`tar -tzvf\`.

## Scenario

Images (\`DOCKER_BUILDKIT=0\`, classic builder, Dockerfiles on stdin without context,
\`--network none\`):

- **\`fx/base:1\`** = \`fx/base:latest\` = \`localhost/fx/other:v1\` (three tags, one image): \`docker import -m 'fixture base' -c 'CMD ["/bin/sh"]'\`
  of the lab's busybox rootfs (busybox + ~270 hard links, \`/etc/motd\`, \`/home/user/.profile\`, mtimes 2024-01-01).
- **\`fx/app:1\`** FROM fx/base:1: \`ENV APP_MODE=fixture APP_HOME=/data\`, \`LABEL org.example.role=app org.example.version=1\`,
  \`WORKDIR /data\`, then one layer per feature:
  1. \`mkdir -p /data/sub /opt/old/inner /opt/redo /opt/mvdir\`, files \`/data/a\`, \`/data/sub/k\`, \`/opt/old/inner/f\`, \`/opt/redo/f\`, \`/opt/mvdir/f\`, **\`rm /etc/motd\`** (whiteout);
  2. **\`rm -rf /home/user && mkdir /home/user\`** + \`/home/user/new\` (opaque dir);
  3. **\`mv /data/a /data/a2\`** (rename of a lower-layer file: whiteout + new file);
  4. **hard link** \`/data/hl\` → \`/data/hl-src\`, **symlinks** \`/data/sym -> a2\`, \`/data/abs-sym -> /etc/passwd\`;
  5. **\`chmod 0600 /etc/os-release\`** (metadata-only change, full copy-up);
  then \`EXPOSE 8080/tcp\` and \`CMD\` (empty layers). Every step leaves an intermediate \`<none>:<none>\` image with a Parent (\`docker images -a\`).
- **\`fx/app:2\`** FROM fx/app:1: \`LABEL org.example.version=2\`, \`RUN echo v2 > /data/v2\` (shares all fx/app:1 layers).
- **\`fx/tmp:1\`** built twice (\`RUN echo first|second > /tmp-marker\`): the first build is now a **dangling** \`<none>:<none>\` image (\`special.dangling_first_fx_tmp_1\`).
- **Registry round trip**: \`fx/app:1\` tagged \`$REG/fx/app:1\`, pushed, that tag removed with \`docker rmi\`, then \`docker pull $REG/fx/app:1\` (gives \`RepoDigests\` and distribution metadata).
- **\`$REG/fx/single:1\`** (pull-only, one layer): a 2-file tar imported as \`fx/single:1\`, pushed, **every local tag removed** (image deleted), then pulled back. $( [ -n "$SINGLE_LOCAL_ID" ] && echo "Its ID before the push was \`$SINGLE_LOCAL_ID\`.")
- **\`fx/committed:1\`**: \`docker commit -a 'Fixture Author <fx@example.invalid>' -m 'fixture commit message' -c 'ENV COMMITTED=yes' committer\` (Parent, Container, Comment, Author).
- **\`fx/gone:1\`** (\`RUN echo gone > /gone-marker\`): container \`orphanimg\` ran from it, then \`docker rmi -f fx/gone:1\`. Result: $GONE_STATE. Output of \`rmi -f\` (\`oracles/rmi-f-gone.txt\`):

$(sed 's/^/      /' "$ORA/rmi-f-gone.txt")

- **\`fx/removed:1\`** built and \`docker rmi\`ed (\`special.removed_image_fx_removed_1\` = \`$REMOVED_IID\`): must not be reported as an existing image.

Containers (all \`--pull never --network none\` unless noted):

| name | image | what |
|---|---|---|
| \`created\` | fx/app:1 | \`docker create\`, never started |
| \`running\` | fx/app:1 | \`sleep 3600\`, running during the archive |
| \`paused\` | fx/app:1 | \`sleep 3600\` then \`docker pause\`, paused during the archive |
| \`exit0\` | fx/base:1 | \`echo bye; exit 0\` |
| \`exit3\` | fx/base:1 | \`echo failing >&2; exit 3\` |
| \`renamed\` | fx/base:1 | ran as \`oldname\`, then \`docker rename oldname renamed\` |
| \`committer\` | fx/base:1 | wrote \`/committed.txt\`, deleted \`/etc/os-release\`; source of fx/committed:1 |
| \`vols\` | fx/base:1 | \`-v vol1:/vol\` (named), \`-v /anon\` (anonymous), \`-v $SRV/bind:/bind:ro\` (bind, host path $SRV_HOST/bind), \`--tmpfs /scratch:rw,size=1m\`; wrote into each and \`/in-rootfs\` |
| \`changes\` | fx/app:1 | add \`/added.txt\`, \`/newdir/file\`; modify \`/data/sub/k\`; delete \`/home/user/new\`; delete whole dir \`/opt/old\`; delete+recreate \`/opt/redo\` (opaque) with \`g\`; rename lower file \`/data/a2\` → \`/data/a3\`; rename lower dir \`/opt/mvdir\` → \`/opt/mvdir2\`; chmod-only \`/etc/group\` 0640; hard link \`/added-hardlink.txt\`; symlink \`/passwd-link -> /etc/passwd\`; setuid \`/usr/local/sbin/suidtool\` (4755); executable \`/usr/local/bin/xmrig\`; \`/root/.ssh/authorized_keys\`; \`/etc/cron.d/x\`; appended \`backdoor:x:0:0\` to \`/etc/passwd\` |
| \`logs\` | fx/base:1 | json-file \`max-size=2k max-file=3 compress=true\`: 150 stdout + 150 stderr lines, a 20000-byte line (split into 16 KiB partial entries), ANSI, CR, last line without newline → \`-json.log\`, \`.1.gz\`, \`.2.gz\`; only the tail survives rotation (see log files below) |
| \`logs-default\` | fx/base:1 | same output, default json-file (no rotation) |
$( [ "$LOCAL_LOGS" = 1 ] && echo "| \`logs-local\` | fx/base:1 | same output, \`--log-driver local\` (\`local-logs/container.log\`, protobuf) |")
| \`risky\` | fx/base:1 | $RISKY_MODE; \`--privileged\`, \`-v $DSOCK:/var/run/docker.sock\`, \`--pid host\`, \`--cap-add SYS_ADMIN\`, \`--security-opt seccomp=unconfined --security-opt apparmor=unconfined\`, \`--restart always\`, \`-e AWS_SECRET_ACCESS_KEY=fakeSecret123\`; never started |
| \`risky-run\` | fx/base:1 | same security settings, \`-v $SRV/hostroot:/host:ro\` instead of \`/\`, no port, \`sleep 3600\`: $RISKYRUN_MODE |
| \`orphanimg\` | fx/gone:1 | wrote \`/orphan.txt\`; its image was then \`rmi -f\`ed (see above) |
| \`evil\` | fx/base:1 | created; label \`evil=$(printf '%q' "$(printf '\033[31mred\033[0m\nsecond line')")\` (ANSI escape + newline), \`plain=ok\`, env \`CR_VAR=before\\rafter\` (carriage return), \`NORMAL=1\` |

Also: volume \`unusedvol\` (created, label \`fx.purpose=unused\`, never mounted); container
\`removed-ctr\` created and \`docker rm\`ed (\`special.removed_container_removed_ctr\` = \`$REMOVED_CID\`: must appear nowhere).

Persisted state of \`paused\` (\`config.v2.json\` \`.State\`):

    $PAUSED_STATE

## Names → IDs (\`oracles/names.json\`)

| container | ID |
|---|---|
$(jq -r '.containers | to_entries | sort_by(.key)[] | "| `\(.key)` | `\(.value)` |"' "$ORA/names.json")

| image reference | ID |
|---|---|
$(jq -r '.images | to_entries | sort_by(.key)[] | "| `\(.key)` | `\(.value)` |"' "$ORA/names.json")

Every image in \`images-all.json\` (untagged ones are intermediate build steps, the dangling first
\`fx/tmp:1\`, and whatever \`rmi -f\` left behind; "created by" = newest \`history\` entry):

| ID (12) | tags | parent | created by |
|---|---|---|---|
$IMAGE_TABLE

Log files on disk (\`oracles/log-files.txt\`: container, bytes, path under \`containers/<id>/\`):

$(sed 's/^/    /' "$ORA/log-files.txt")

## Oracles (\`oracles/\`)

Raw Engine API responses (\`curl --unix-socket\`, unversioned paths, i.e. API $API_VER, bytes as sent):
\`version.json\`, \`info.json\` (shows the lab's dead proxy and registry mirror; not stored in the data root),
\`images-all.json\` (\`/images/json?all=1&digests=1\`), \`images.json\`, \`image-inspect/<id-hex>.json\`,
\`image-history/<id-hex>.json\` (every image in images-all), \`containers-all.json\`, \`containers-all-size.json\` (\`size=1\`),
\`containers.json\`, \`container-inspect/<name>.json\`, \`container-changes/<name>.json\` (\`/containers/<id>/changes\`),
\`volumes.json\`, \`volume-inspect/<name>.json\`, \`networks.json\`, \`system-df.json\`.
CLI (docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null || echo '?')): \`docker-images-a.txt\` (\`images -a --no-trunc --digests\`), \`docker-images.txt\`,
\`docker-ps-a.txt\` (\`ps -a --no-trunc\`), \`docker-ps-a.jsonl\`, \`docker-history/<repo_tag>.txt\` (\`history --no-trunc\`, \`/\` and \`:\` → \`_\`),
\`docker-diff/<name>.txt\`, \`export/<name>.txt\` (\`docker export | tar --numeric-owner -tvf -\`, TZ=UTC) and \`export/<name>.list\` (\`tar -tf\`)
for changes, created, orphanimg, committer, renamed; \`logs/<name>.stdout|.stderr\` (\`docker logs\` split by stream) and
\`logs/<name>.ts.txt\` (\`docker logs --timestamps\`, 2>&1) for every container.
\`ctr/\`: containerd's own view (\`ctr -n moby images|content|containers|leases ls\`, \`snapshots --snapshotter overlayfs ls\`$([ "$C8D" = 1 ] && echo ', `snapshot-info/<name>[-init].json`')).
\`scenario.log\`: every command and its output; \`notes.txt\`: deviations found while capturing;
\`rmi-f-gone.txt\`; \`names.json\`. Relative times in the CLI text (\`CREATED\`, \`STATUS\`) are as of the capture.
The oracles were taken after the scenario and right before the archive; only the sleeping
\`running\`/\`paused\`/\`risky-run\` containers were live in between.

## Notes from this capture

$(if [ -s "$NOTES" ]; then cat "$NOTES"; else echo "- none"; fi)
EOF
for qf in "$(dirname "$0")/capture/quirks-$ENGINE-$STORE.md" "$(dirname "$0")/capture/quirks-common.md"; do
  if [ -f "$qf" ]; then echo; cat "$qf"; fi
done
} > "$OUT/README.md"

log "done: $OUT ($(du -sh "$OUT/data-root.tar.gz" | cut -f1))"
