#!/usr/bin/env bash
# Builds the committed tar-split test vectors under test/data/tarsplit/.
#
# Needs GNU tar, python3 and Debian's `tar-split` CLI (vbatts/tar-split: apt-get install tar-split).
# Tests never run this: they read only the committed outputs, so CI needs none of these tools.
#
# For each vector <v>:
#   <v>/tar-split.json.gz  `tar-split disasm` of the original layer tar (what Docker stores in layerdb)
#   <v>/layer.sha256       sha256 of the original layer tar (its diffID, without "sha256:")
#   <v>/layer.size         its length in bytes
#   <v>/tree.tar.gz        the tree GNU tar extracted from the layer tar, repacked (GNU format, sorted,
#                          so non-UTF-8 names stay raw bytes); tests unpack it to a temp dir
#   <v>/expected.json      python tarfile's independent listing of the original tar
#                          [{name_hex, size, type}] (tarfile hides PAX global headers; Go does not)
# and for the `pax` vector also
#   pax/tree-overlay.tar.gz the same tree laid out as an overlay2 diff dir under `diff/`:
#                          `.wh.<n>` files became char devices 0:0, `.wh..wh..opq` became the PAX
#                          xattr trusted.overlay.opaque=y on its directory (written with python tarfile,
#                          so no mknod privilege is needed)
# Every vector is checked with `tar-split asm --path tree` before it is kept: the reassembled tar
# must hash to layer.sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=test/data/tarsplit
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
command -v tar-split >/dev/null || { echo "tar-split CLI missing (apt-get install tar-split)" >&2; exit 1; }

export TZ=UTC LC_ALL=C
MTIME=@1700000000
norm=(--owner=0 --group=0 --numeric-owner --mtime="$MTIME")

# Deterministic patterned bytes: python3 -c so the content is the same everywhere.
pattern() { python3 -c "import sys; n=int(sys.argv[1]); sys.stdout.buffer.write(bytes((i*7+i//251)&255 for i in range(n)))" "$1"; }

finish() { # <vector> <layer.tar>
  local v=$1 layer=$2 d="$OUT/$1"
  rm -rf "$d"; mkdir -p "$d"
  tar-split disasm --no-stdout --output "$d/tar-split.json.gz" - < "$layer"
  sha256sum < "$layer" | cut -d' ' -f1 > "$d/layer.sha256"
  stat -c %s "$layer" > "$d/layer.size"
  mkdir "$WORK/$v-tree"
  tar -xpf "$layer" -C "$WORK/$v-tree"
  tar-split asm --input "$d/tar-split.json.gz" --path "$WORK/$v-tree" --output "$WORK/$v-asm.tar"
  local got; got=$(sha256sum < "$WORK/$v-asm.tar" | cut -d' ' -f1)
  [ "$got" = "$(cat "$d/layer.sha256")" ] || { echo "$v: tar-split asm does not reproduce the layer" >&2; exit 1; }
  chmod 644 "$d/tar-split.json.gz"
  tar --format=gnu --sort=name "${norm[@]}" -C "$WORK/$v-tree" -cf - . | gzip -9n > "$d/tree.tar.gz"
  python3 - "$layer" > "$d/expected.json" <<'PY'
import json, sys, tarfile
types = {tarfile.REGTYPE: 'file', tarfile.AREGTYPE: 'file', tarfile.LNKTYPE: 'link', tarfile.SYMTYPE: 'symlink',
         tarfile.DIRTYPE: 'dir', tarfile.CHRTYPE: 'char', tarfile.BLKTYPE: 'block', tarfile.FIFOTYPE: 'fifo'}
with tarfile.open(sys.argv[1], encoding='utf-8', errors='surrogateescape') as t:
    out = [{'name_hex': m.name.encode('utf-8', 'surrogateescape').hex(), 'size': m.size, 'type': types.get(m.type, 'other')}
           for m in t.getmembers()]
json.dump(out, sys.stdout, indent=1)
print()
PY
}

# ---- pax: GNU tar --format=pax, './' names, PAX long path, a PAX global header, whiteout files,
#      symlink, hard link, empty file, 512-byte file, default 10 KiB records, garbage after the end.
S="$WORK/pax-src"; mkdir -p "$S"/{etc,data,opq}
printf 'dockscope\n' > "$S/etc/hostname"
: > "$S/etc/empty"
ln -s hostname "$S/etc/link"
ln "$S/etc/hostname" "$S/etc/hard"
LONG="usr/share/$(printf 'a%.0s' {1..60})/$(printf 'b%.0s' {1..60})"
mkdir -p "$S/$LONG"; printf 'long path body\n' > "$S/$LONG/file.txt"
: > "$S/.wh.deleted"
: > "$S/opq/.wh..wh..opq"
printf 'kept\n' > "$S/opq/kept"
pattern 512 > "$S/data/block512"
pattern 40000 > "$S/data/big.bin"
printf 'x' > "$S/data/one"
tar --format=pax --pax-option=comment=dockscope-test,delete=atime,delete=ctime,exthdr.name=%d/PaxHeaders/%f,globexthdr.name=/tmp/GlobalHead.%n --sort=name "${norm[@]}" -C "$S" -cf "$WORK/pax.tar" .
# GNU tar stamps the global header with the current time whatever --mtime says: pin it.
python3 - "$WORK/pax.tar" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
assert b[156:157] == b'g'
b[136:148] = b'%011o\0' % 1700000000
b[148:156] = b' ' * 8
b[148:156] = b'%06o\0 ' % sum(b[0:512])
open(p, 'wb').write(b)
PY
printf 'TRAILING GARBAGE AFTER END OF ARCHIVE\n' >> "$WORK/pax.tar"
[ -n "${KEEP_LAYERS:-}" ] && cp "$WORK/pax.tar" "$KEEP_LAYERS/pax.tar"
finish pax "$WORK/pax.tar"

# overlay2 view of the same tree: whiteouts as char 0:0, opaque dir as an xattr.
python3 - "$OUT/pax/tree.tar.gz" "$WORK/tree-overlay.tar" <<'PY'
import sys, tarfile, posixpath
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src) as t, tarfile.open(dst, 'w', format=tarfile.PAX_FORMAT) as o:
    members = t.getmembers()
    opaque = {posixpath.dirname(posixpath.normpath(m.name)) for m in members
              if posixpath.basename(m.name) == '.wh..wh..opq'}
    root = tarfile.TarInfo('diff'); root.type = tarfile.DIRTYPE; root.mode = 0o755; root.mtime = 1700000000
    o.addfile(root)
    for m in members:
        name = posixpath.normpath(m.name)
        base = posixpath.basename(name)
        if base == '.wh..wh..opq':
            continue
        if name == '.':
            continue
        n = tarfile.TarInfo('diff/' + name)
        for k in ('mode', 'uid', 'gid', 'mtime', 'uname', 'gname'):
            setattr(n, k, getattr(m, k))
        if base.startswith('.wh.'):
            n.name = 'diff/' + posixpath.join(posixpath.dirname(name), base[4:])
            n.type = tarfile.CHRTYPE; n.devmajor = 0; n.devminor = 0; n.mode = 0
            o.addfile(n); continue
        n.type = m.type; n.linkname = m.linkname
        if m.islnk():
            n.linkname = 'diff/' + posixpath.normpath(m.linkname)
        if m.isdir() and name in opaque:
            n.pax_headers = {'SCHILY.xattr.trusted.overlay.opaque': 'y'}
        if m.isreg():
            n.size = m.size
            o.addfile(n, t.extractfile(m))
        else:
            o.addfile(n)
PY
gzip -9n < "$WORK/tree-overlay.tar" > "$OUT/pax/tree-overlay.tar.gz"

# ---- gnu: GNU format, bare names (no './'), GNU long name (L) and long link target (K), names that
#      are not UTF-8 (so tar-split stores name_raw), a UTF-8 name, 1024-byte end only (-b 1).
S="$WORK/gnu-src"; mkdir -p "$S"
printf 'latin-1 name\n' > "$S/caf"$'\xe9'".txt"
mkdir "$S/"$'\xff\xfe'; printf 'raw dir\n' > "$S/"$'\xff\xfe'"/inner"
printf 'utf-8 name\n' > "$S/ünïcödé.txt"
LONGN="$(printf 'n%.0s' {1..120})"
printf 'gnu long name\n' > "$S/$LONGN"
ln -s "$(printf 't%.0s' {1..120})" "$S/longlink"
: > "$S/zero"
(cd "$S" && tar --format=gnu -b 1 --sort=name "${norm[@]}" -cf "$WORK/gnu.tar" *)
finish gnu "$WORK/gnu.tar"

echo "wrote $(find "$OUT" -type f | wc -l) files under $OUT"
