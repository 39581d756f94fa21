/**
 * The minimal SQLite reader (src/store/sqlite.ts) and linkgraph.db (src/store/linkgraph.ts) on
 * test/data/linkgraph/links.db (made with Python's sqlite3, see its README: interior pages,
 * overflow pages) and on damaged copies of it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { listContainers } from '../../src/analysis/inspect.js';
import { makePathMap } from '../../src/analysis/paths.js';
import { buildModel } from '../../src/model/graph.js';
import { DirSource } from '../../src/source/dir.js';
import { Findings } from '../../src/store/findings.js';
import { parseLinkgraph } from '../../src/store/linkgraph.js';
import { record, SqliteFile, varint } from '../../src/store/sqlite.js';
import { REPO } from '../helpers/fixtures.js';

const DB = fs.readFileSync(path.join(REPO, 'test/data/linkgraph/links.db'));
const h = (c: string) => c.repeat(64);

test('varints and records', () => {
  assert.deepEqual(varint(Buffer.from([0x7f]), 0), { value: 127n, len: 1 });
  assert.deepEqual(varint(Buffer.from([0x81, 0x00]), 0), { value: 128n, len: 2 });
  assert.deepEqual(varint(Buffer.alloc(9, 0xff), 0), { value: 0xffffffffffffffffn, len: 9 });
  assert.equal(varint(Buffer.from([0x81]), 0), undefined);
  // header 6 bytes (its own size first): NULL, int8 -1, text "hi", 0, 1
  assert.deepEqual(record(Buffer.from([6, 0, 1, 17, 8, 9, 0xff, 0x68, 0x69])), [null, -1, 'hi', 0, 1]);
  assert.equal(record(Buffer.from([3, 1, 17, 0x05])), undefined, 'text runs past the payload');
});

test('links.db: every row through interior and overflow pages; names and links', () => {
  const f = new Findings();
  const db = new SqliteFile(DB, 'links.db', f);
  assert.equal(db.pageSize, 512);
  assert.deepEqual(db.tables().map((t) => t.name), ['entity', 'edge']);
  const lg = parseLinkgraph(DB, 'linkgraph.db', f);
  assert.deepEqual(f.list, []);
  assert.equal(lg.names.size, 304);
  assert.equal(lg.names.get(h('a')), 'web');
  assert.equal(lg.names.get(h('d')), 'long-' + 'x'.repeat(1500));
  assert.equal(lg.names.get('%064x'.replace('%064x', (300).toString(16).padStart(64, '0'))), 'filler299');
  assert.deepEqual(lg.links, [
    { parent: h('a'), alias: 'db', child: h('b') },
    { parent: h('a'), alias: 'redis', child: h('c') },
  ]);
});

test('damaged files are findings, never throws: bad header, truncation, a page loop, garbage pages', () => {
  const cases: [string, Buffer][] = [
    ['not sqlite', Buffer.from('hello world'.repeat(20))],
    ['truncated', DB.subarray(0, 512 * 3 + 100)],
    ['bad page size', Buffer.concat([DB.subarray(0, 16), Buffer.from([0x01, 0x23]), DB.subarray(18)])],
  ];
  // Every interior page's right-most pointer aimed at itself: a loop.
  const loop = Buffer.from(DB);
  let interiors = 0;
  for (let p = 1; p < loop.length / 512; p++) if (loop[p * 512] === 0x05) (interiors++, loop.writeUInt32BE(p + 1, p * 512 + 8));
  assert.ok(interiors > 0, 'the fixture has interior pages');
  cases.push(['loop', loop]);
  // Random bytes over every page but the first.
  const junk = Buffer.from(DB);
  let x = 12345;
  for (let i = 512; i < junk.length; i++) junk[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  cases.push(['junk', junk]);
  for (const [what, buf] of cases) {
    const f = new Findings();
    const lg = parseLinkgraph(buf, 'linkgraph.db', f);
    assert.ok(f.list.length > 0, `${what}: a finding`);
    assert.ok(lg.names.size <= 304, what);
  }
});

test('containers: a pre-1.10 config.json without a name takes it from linkgraph.db; links show as /<parent>/<alias>', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-lg-'));
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  const cfg = (id: string, name?: string) => JSON.stringify({ ID: id, ...(name ? { Name: name } : {}), Image: h('9'), Driver: 'aufs', Path: 'sh', Args: [], Created: '2015-10-02T00:00:00Z', State: { Running: true }, Config: { Image: 'busybox' } });
  fs.mkdirSync(path.join(root, 'graph'), { recursive: true });
  fs.mkdirSync(path.join(root, 'aufs/diff'), { recursive: true });
  for (const [id, name] of [[h('a'), undefined], [h('b'), '/db'], [h('c'), '/cache']] as const) {
    fs.mkdirSync(path.join(root, 'containers', id), { recursive: true });
    fs.writeFileSync(path.join(root, 'containers', id, 'config.json'), cfg(id, name));
  }
  fs.writeFileSync(path.join(root, 'linkgraph.db'), DB);
  const model = buildModel(new DirSource(root));
  const ps = listContainers(model, true, makePathMap('/var/lib/docker', 'as-root'));
  assert.deepEqual(Object.fromEntries(ps.map((c) => [c.Id.slice(0, 1), c.Names])), { a: ['/web'], b: ['/db', '/web/db'], c: ['/cache', '/web/redis'] });
});
