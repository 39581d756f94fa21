/**
 * store/containerd-ingest.ts on hand-made ingest dirs: a well-formed partial download, and each
 * way one can be odd (a ref that does not hash to the dir name, garbage times and totals, a
 * file where a dir belongs, missing files) is a finding with the rest still read.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DirSource } from '../../src/source/dir.js';
import { listIngests } from '../../src/store/containerd-ingest.js';
import { Findings } from '../../src/store/findings.js';

const BASE = 'io.containerd.content.v1.content';

function root(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-ingest-'));
  process.on('exit', () => fs.rmSync(r, { recursive: true, force: true }));
  fs.mkdirSync(path.join(r, BASE, 'ingest'), { recursive: true });
  return r;
}

function ingest(r: string, ref: string, files: Record<string, string>, dir = createHash('sha256').update(ref).digest('hex')): string {
  const d = path.join(r, BASE, 'ingest', dir);
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'ref'), ref);
  for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(d, k), v);
  return dir;
}

test('a partial download: ref, expected digest, bytes received of the total, times to the nanosecond', () => {
  const r = root();
  const ref = 'layer-sha256:' + 'a'.repeat(64);
  const dir = ingest(r, ref, { data: 'x'.repeat(10), total: '4096', startedat: '2026-01-02T03:04:05.123456789Z', updatedat: '2026-01-02T05:04:05.5+02:00' });
  const f = new Findings();
  const [i, ...rest] = listIngests(new DirSource(r), BASE, f);
  assert.equal(rest.length, 0);
  assert.deepEqual(f.list, []);
  assert.equal(i!.dir, dir);
  assert.equal(i!.path, `${BASE}/ingest/${dir}`);
  assert.equal(i!.ref, ref);
  assert.equal(i!.refMatchesDir, true);
  assert.equal(i!.expected, 'sha256:' + 'a'.repeat(64));
  assert.equal(i!.size, 10);
  assert.equal(i!.total, 4096);
  assert.equal(i!.startedAt!.ns, 1767323045123456789n);
  assert.equal(i!.updatedAt!.ns, 1767323045500000000n);
});

test('odd ingest dirs are findings, and the rest is still read', () => {
  const r = root();
  ingest(r, 'manifest-sha256:' + 'b'.repeat(64), { total: 'lots', startedat: 'yesterday' }, 'f'.repeat(64));
  ingest(r, 'no-digest-ref', {});
  fs.writeFileSync(path.join(r, BASE, 'ingest', 'stray-file'), 'x');
  const f = new Findings();
  const list = listIngests(new DirSource(r), BASE, f, (p) => `../containerd/${p}`);
  assert.equal(list.length, 2);
  const odd = list.find((i) => i.dir === 'f'.repeat(64))!;
  assert.equal(odd.refMatchesDir, false);
  assert.equal(odd.total, undefined);
  assert.equal(odd.startedAt, undefined);
  assert.equal(odd.size, undefined, 'no data file');
  const plain = list.find((i) => i.ref === 'no-digest-ref')!;
  assert.equal(plain.expected, undefined);
  assert.equal(plain.refMatchesDir, true);
  const codes = f.list.map((x) => x.code).sort();
  assert.deepEqual(codes, ['containerd.ingest.bad-time', 'containerd.ingest.bad-total', 'containerd.ingest.not-dir', 'containerd.ingest.ref-mismatch']);
  assert.ok(f.list.every((x) => x.path?.startsWith('../containerd/')));
  // No ingest dir at all: nothing, and no finding.
  const g = new Findings();
  assert.deepEqual(listIngests(new DirSource(root()), 'elsewhere', g), []);
  assert.deepEqual(g.list, []);
});
