/**
 * Read-only, provably: a full metadata snapshot of an extracted real-engine store (type, size,
 * mode, owner, mtime, ctime, content hash; atime of regular files, which we open with
 * O_NOATIME) is taken before and after running every command on it, and must not change.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';
import { canExtract, extractFixture, listFixtures } from '../helpers/fixtures.js';

function snapshot(top: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = fs.lstatSync(p, { bigint: true });
    let rec = `${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.nlink}:${st.rdev}`;
    if (st.isFile()) {
      const fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants as any).O_NOATIME);
      try {
        rec += `:${st.atimeNs}:${createHash('sha256').update(fs.readFileSync(fd)).digest('hex')}`;
      } finally {
        fs.closeSync(fd);
      }
    } else if (st.isSymbolicLink()) rec += `:${fs.readlinkSync(p)}`;
    out.set(path.relative(top, p), rec);
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
  };
  walk(top);
  return out;
}

const f = listFixtures((n) => n === 'overlay2-20.10')[0]!;

test('no command changes anything in the evidence', { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () => {
  const top = extractFixture(f);
  const archiveBefore = snapshot(f.dir);
  const before = snapshot(top);
  const root = path.join(top, 'var/lib/docker');
  const cmds = [['info', '-v'], ['images', '-a'], ['image', 'fx/app:1'], ['history', 'fx/app:2'], ['chain', 'fx'], ['containers', '-a'], ['container', 'changes', '--mounts'], ['container', 'evil']];
  for (const evidence of [root, top, f.archive])
    for (const c of cmds) {
      const r = cli(['--root', evidence, ...c]);
      assert.ok(r.code === 0 || (c[0] === 'chain' && r.code === 1), `${c.join(' ')}: ${r.stderr}`);
      cli(['--root', evidence, ...c, '--json']);
    }
  const after = snapshot(top);
  assert.equal(after.size, before.size);
  for (const [p, rec] of before) assert.equal(after.get(p), rec, p);
  assert.deepEqual(snapshot(f.dir), archiveBefore);
});
