/**
 * How the daemon ran, from where its data root sits and what its layer dirs carry: --userns-remap
 * (`<uid>.<gid>/` inside the configured root, daemon/daemon_unix.go setupRemappedRoot) and rootless
 * (`~/.local/share/docker`, overlay2 with `userxattr` → `user.overlay.*`). Hand-made trees.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openEvidence } from '../../src/source/open.js';
import { Findings } from '../../src/store/findings.js';
import { detectLayout } from '../../src/store/layout.js';
import { buildTar, tmpFile, type TarEntry } from '../helpers/tarbuild.js';

function tree(dirs: string[]): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-layout-'));
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  for (const d of dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  return root;
}
const dataRoot = (at: string) => [`${at}/containers`, `${at}/image/overlay2/layerdb`, `${at}/overlay2/l`];

test('--userns-remap: opening the configured root finds <uid>.<gid>/ and info says what it is', async () => {
  const root = tree(dataRoot('100000.100000'));
  const ev = await openEvidence(root);
  assert.equal(ev.rootPath, '100000.100000');
  const items = detectLayout(ev.root, new Findings(), ev.rootPath).items;
  const it = items.find((i) => i.key === 'userns-remap-root');
  assert.ok(it, JSON.stringify(items));
  assert.match(it.description, /host uid 100000, gid 100000/);
  // From the parent's point of view the remapped root is listed.
  const parent = detectLayout(ev.top, new Findings(), '').items;
  assert.ok(parent.some((i) => i.key === 'userns-remap' && i.path === '100000.100000'));
  // Two remapped roots: one is read, and the others are named.
  const two = await openEvidence(tree([...dataRoot('100000.100000'), ...dataRoot('200000.200000')]));
  assert.match(two.rootPath, /^[12]00000\.[12]00000$/);
  assert.deepEqual(two.problems.length, 1);
  assert.match(two.problems[0]!, /several --userns-remap data roots/);
});

test('rootless: a data root under ~/.local/share/docker is found and named', async () => {
  const root = tree(dataRoot('home/alice/.local/share/docker'));
  const ev = await openEvidence(root);
  assert.equal(ev.rootPath, 'home/alice/.local/share/docker');
  const items = detectLayout(ev.root, new Findings(), ev.rootPath).items;
  assert.ok(items.some((i) => i.key === 'rootless'), JSON.stringify(items));
  assert.ok(!items.some((i) => i.key === 'userns-remap-root'));
});

test('rootless: user.overlay.* xattrs in overlay2 layer dirs are named; trusted.overlay.* are not', async () => {
  const T = new Date(1_700_000_000_000);
  const base: TarEntry[] = [
    { name: 'containers/', type: 'directory', mtime: T },
    { name: 'image/overlay2/layerdb/', type: 'directory', mtime: T },
    { name: 'overlay2/l/', type: 'directory', mtime: T },
    { name: `overlay2/${'a'.repeat(64)}/diff/`, type: 'directory', mtime: T },
  ];
  const marked = (key: string): TarEntry => ({ name: `overlay2/${'a'.repeat(64)}/diff/etc/`, type: 'directory', mtime: T, pax: { [`SCHILY.xattr.${key}`]: 'y' } });
  const keysOf = async (e: TarEntry[]) => {
    const ev = await openEvidence(tmpFile('r.tar', await buildTar(e)));
    return detectLayout(ev.root, new Findings(), ev.rootPath).items;
  };
  const rootless = await keysOf([...base, marked('user.overlay.opaque')]);
  const it = rootless.find((i) => i.key === 'rootless-xattrs');
  assert.ok(it, JSON.stringify(rootless));
  assert.match(it.description, /diff\/etc \(user\.overlay\.opaque\)/);
  assert.ok(!(await keysOf([...base, marked('trusted.overlay.opaque')])).some((i) => i.key === 'rootless-xattrs'));
});

const SETFATTR = ['/usr/bin/setfattr', '/bin/setfattr'].find((p) => fs.existsSync(p));
test('rootless on a directory: user.overlay.* found in a later layer dir; prefetched xattrs equal one-by-one reads', { skip: !SETFATTR || process.getuid?.() !== 0 ? 'needs root and setfattr (package attr)' : false }, async () => {
  const ids = ['a', 'b', 'c'].map((c) => c.repeat(64));
  const root = tree([...dataRoot('docker'), ...ids.flatMap((id) => [0, 1, 2, 3].map((k) => `docker/overlay2/${id}/diff/d${k}`))]);
  const mark = (p: string, k: string) => execFileSync(SETFATTR!, ['-n', k, '-v', 'y', path.join(root, 'docker/overlay2', p)]);
  mark(`${ids[0]}/diff/d1`, 'user.other');
  mark(`${ids[2]}/diff/d3`, 'user.overlay.opaque');
  fs.symlinkSync('/etc', path.join(root, `docker/overlay2/${ids[1]}/diff/out`));
  const ev = await openEvidence(path.join(root, 'docker'));
  const it = detectLayout(ev.root, new Findings(), ev.rootPath).items.find((i) => i.key === 'rootless-xattrs');
  assert.ok(it);
  assert.match(it.description, new RegExp(`${ids[2]}/diff/d3 \\(user\\.overlay\\.opaque\\)`));

  const paths = ids.flatMap((id) => ['', '/d0', '/d1', '/d3', '/out', '/absent'].map((s) => `overlay2/${id}/diff${s}`));
  const one = await openEvidence(path.join(root, 'docker'));
  const batch = await openEvidence(path.join(root, 'docker'));
  const read = (src: typeof one.root) => paths.map((p) => [...src.xattrs(p)].map(([k, v]) => `${k}=${v.toString()}`).join(','));
  const expected = read(one.root);
  batch.root.prefetchXattrs!(paths);
  // Taken away after the prefetch: only answers the prefetch itself read still carry it.
  execFileSync(SETFATTR!, ['-x', 'user.other', path.join(root, `docker/overlay2/${ids[0]}/diff/d1`)]);
  assert.deepEqual(read(batch.root), expected);
  assert.ok(expected.includes('user.other=y') && expected.includes('user.overlay.opaque=y'));
});
