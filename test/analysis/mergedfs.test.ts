/**
 * The userland union mount (src/analysis/mergedfs.ts), the changes algorithms (diff.ts) and the
 * tar writer (export.ts) on hand-made layer trees: overlay whiteouts and opaque dirs, aufs
 * markers, redirects and metacopy, symlinks that try to leave the container, loops, hard links.
 * Layers are built as tar archives (TarSource keeps devices and PAX xattrs) and, where root can
 * make them, as real directories with mknod/setfattr.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import tarStream from 'tar-stream';
import { aufsChanges, longChanges, naiveChanges, pathFlags, sameFsTime, statDifferent, type Change, type DiffResult } from '../../src/analysis/diff.js';
import { exportPlan, unsafeOutput, writeExport } from '../../src/analysis/export.js';
import { compareNames, findEntries, globToRegExp, MergedFs, parseTimeNs, type LayerDir, type WhiteoutStyle } from '../../src/analysis/mergedfs.js';
import { ttySafeText } from '../../src/render/diff.js';
import { DirSource } from '../../src/source/dir.js';
import { TarSource } from '../../src/source/tar.js';
import { EvidenceError, type Source, type Stat } from '../../src/source/types.js';
import { buildTar, tmpDir, tmpFile, type TarEntry } from '../helpers/tarbuild.js';

const T0 = new Date(1_700_000_000_000);
const T1 = new Date(1_700_000_100_000);

const dir = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name, type: 'directory', mtime: T0, ...extra });
const file = (name: string, body: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name, type: 'file', body, mtime: T0, ...extra });
const wh = (name: string): TarEntry => ({ name, type: 'character-device', devmajor: 0, devminor: 0, mode: 0, mtime: T0 });
const link = (name: string, target: string): TarEntry => ({ name, type: 'symlink', linkname: target, mtime: T0 });
const hard = (name: string, target: string): TarEntry => ({ name, type: 'link', linkname: target, mtime: T0 });
const OPAQUE = { 'SCHILY.xattr.trusted.overlay.opaque': 'y' };

/** One tar holding each layer under its own top folder; returns the layers, upper first. */
async function layers(spec: [string, TarEntry[]][], style: WhiteoutStyle = 'overlay'): Promise<LayerDir[]> {
  const entries: TarEntry[] = [];
  for (const [id, list] of spec) {
    entries.push(dir(`${id}/`));
    for (const e of list) entries.push({ ...e, name: `${id}/${e.name}`, linkname: e.type === 'link' ? `${id}/${e.linkname}` : e.linkname });
  }
  const src = await TarSource.open(tmpFile('layers.tar', await buildTar(entries)));
  return spec.map(([id], i) => ({ id, src: src.sub(id), whiteouts: style, role: i === 0 ? 'upper' : 'image', path: id, index: spec.length - 1 - i }));
}

/** A source that reports different xattrs (or none at all) for some paths. */
function withXattrs(src: Source, x: Record<string, Record<string, Buffer>>, hasXattrs = true): Source {
  return {
    kind: src.kind,
    label: src.label,
    location: src.location,
    hasXattrs,
    lstat: (p) => src.lstat(p),
    stat: (p) => src.stat(p),
    readdir: (p) => src.readdir(p),
    readFile: (p, l) => src.readFile(p, l),
    readlink: (p) => src.readlink(p),
    createReadStream: (p) => src.createReadStream(p),
    xattrs: (p) => (hasXattrs ? (x[p] ? new Map(Object.entries(x[p]!)) : src.xattrs(p)) : new Map()),
    sub: (p) => src.sub(p),
  };
}

/** A source whose lstat answers differ for some paths (tar-stream cannot write uid/gid in the test tars). */
function withStats(src: Source, patch: Record<string, Partial<Stat>>): Source {
  return { ...withXattrs(src, {}), lstat: (p) => (patch[p] && src.lstat(p) ? { ...src.lstat(p)!, ...patch[p] } : src.lstat(p)) };
}

const names = (view: MergedFs, p: string) => view.list(view.lookup(p)!).map((e) => e.name);
const read = (view: MergedFs, p: string) => view.readFile(view.lookup(p)!, 1 << 20).toString();
const isCode = (code: string) => (e: unknown) => e instanceof EvidenceError && e.code === code;
const kinds = (cs: Change[]) => cs.map((c) => `${'CAD'[c.Kind]} ${c.Path}`).sort();

describe('overlay whiteouts and opaque directories', () => {
  test('upper hides lower, char 0:0 deletes, opaque dirs hide lower contents', async () => {
    const L = await layers([
      ['up', [file('a', 'upper-a'), file('new', 'n'), dir('o/'), file('o/r', 'r')]],
      ['mid', [dir('d/'), wh('d/x'), dir('o/', { pax: OPAQUE }), file('o/s', 's'), dir('u/', { pax: { 'SCHILY.xattr.user.overlay.opaque': 'y' } })]],
      ['base', [file('a', 'base-a'), dir('d/'), file('d/x', 'x'), file('d/y', 'y'), dir('o/'), file('o/p', 'p'), file('keep', 'k'), dir('u/'), file('u/gone', 'g')]],
    ]);
    const v = new MergedFs(L);
    assert.deepEqual(names(v, '/'), ['a', 'd', 'keep', 'new', 'o', 'u']);
    assert.equal(read(v, '/a'), 'upper-a');
    assert.equal(v.lookup('/a')!.layer, 0);
    assert.deepEqual(names(v, '/d'), ['y']);
    assert.equal(v.lookup('/d/x'), undefined);
    // The upper /o is not opaque itself, but the mid one is: base's /o/p is hidden.
    assert.deepEqual(names(v, '/o'), ['r', 's']);
    assert.deepEqual(names(v, '/u'), [], 'user.overlay.opaque (rootless) is honoured too');
    assert.equal(v.opaqueKnown, true);
  });

  test('a directory over a whiteout is new; a directory over a file does not merge; a file over a directory hides it', async () => {
    const L = await layers([
      ['up', [dir('w/'), file('w/mine', '1'), dir('f/'), file('f/in', '2'), file('d2', 'now a file')]],
      ['mid', [wh('w')]],
      ['base', [dir('w/'), file('w/old', 'o'), file('f', 'a file'), dir('d2/'), file('d2/child', 'c')]],
    ]);
    const v = new MergedFs(L);
    assert.deepEqual(names(v, '/w'), ['mine']);
    assert.deepEqual(names(v, '/f'), ['in']);
    assert.equal(v.lookup('/d2')!.stat.type, 'file');
    assert.throws(() => v.lookup('/d2/child'), isCode('ENOTDIR'));
    assert.deepEqual([...v.walk(v.root()!)].map((e) => e.path), ['/d2', '/f', '/f/in', '/w', '/w/mine']);
  });

  test('a file named .wh.x is an ordinary file under overlay, and the whiteout of nothing is harmless', async () => {
    const L = await layers([['up', [file('.wh.x', 'literal'), wh('never-existed')]], ['base', [file('x', 'still here')]]]);
    const v = new MergedFs(L);
    assert.deepEqual(names(v, '/'), ['.wh.x', 'x']);
    assert.equal(read(v, '/x'), 'still here');
  });

  test('the opaque mark on a layer root is ignored (as the kernel does) and noted', async () => {
    const L = await layers([['up', [file('u', '1')]], ['base', [file('b', '2')]]]);
    const up = withXattrs(L[0]!.src, { '': { 'trusted.overlay.opaque': Buffer.from('y') } });
    const v = new MergedFs([{ ...L[0]!, src: up }, L[1]!]);
    assert.deepEqual(names(v, '/'), ['b', 'u']);
    assert.match(v.notes.join('\n'), /root is marked opaque/);
  });

  test('without readable xattrs, opaque directories are unknown and the view says so', async () => {
    const L = await layers([['up', [dir('o/', { pax: OPAQUE }), file('o/new', 'n')]], ['base', [dir('o/'), file('o/old', 'o')]]]);
    const blind = new MergedFs([{ ...L[0]!, src: withXattrs(L[0]!.src, {}, false) }, L[1]!]);
    assert.equal(blind.opaqueKnown, false);
    assert.deepEqual(names(blind, '/o'), ['new', 'old'], 'lower content shows through when the mark cannot be read');
    const seeing = new MergedFs(L);
    assert.equal(seeing.opaqueKnown, true);
    assert.deepEqual(names(seeing, '/o'), ['new']);
  });

  test('xwhiteouts (Linux 6.7+): only inside a directory whose opaque xattr is "x"', async () => {
    const L = await layers([
      ['up', [dir('d/', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'x' } }), file('d/gone', '', { pax: { 'SCHILY.xattr.trusted.overlay.whiteout': '' } }), file('d/mine', 'm'), dir('e/'), file('e/gone', '', { pax: { 'SCHILY.xattr.trusted.overlay.whiteout': '' } })]],
      ['base', [dir('d/'), file('d/gone', 'g'), file('d/kept', 'k'), dir('e/'), file('e/gone', 'g')]],
    ]);
    const v = new MergedFs(L);
    assert.deepEqual(names(v, '/d'), ['kept', 'mine'], '"x" is not opaque, and the marked file is a whiteout');
    assert.equal(read(v, '/e/gone'), '', 'outside an "x" directory the xattr means nothing');
  });

  test('redirect_dir: a renamed directory keeps its lower contents; metacopy takes bytes from below', async () => {
    const L = await layers([
      ['up', [wh('a'), dir('b/', { pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/a' } }), file('b/added', '+'), file('m', '', { mode: 0o600, pax: { 'SCHILY.xattr.trusted.overlay.metacopy': '' } })]],
      ['base', [dir('a/'), file('a/x', 'from a'), file('m', 'lower bytes')]],
    ]);
    const v = new MergedFs(L);
    assert.deepEqual(names(v, '/'), ['b', 'm']);
    assert.deepEqual(names(v, '/b'), ['added', 'x']);
    assert.equal(read(v, '/b/x'), 'from a');
    const m = v.lookup('/m')!;
    assert.equal(m.stat.mode, 0o600, 'metadata from the upper copy');
    assert.equal(m.stat.size, 11);
    assert.equal(read(v, '/m'), 'lower bytes');
  });
});

describe('aufs-style whiteouts', () => {
  test('.wh.<name> deletes, .wh..wh..opq makes opaque, every .wh. name is a marker', async () => {
    const L = await layers(
      [
        ['up', [file('.wh.gone', ''), dir('o/'), file('o/.wh..wh..opq', ''), file('o/new', 'n'), file('.wh..wh.aufs', ''), dir('.wh..wh.plnk/'), file('.wh..wh.plnk/123.456', 'x'), dir('.wh..wh.orph/'), wh('dev0')]],
        ['base', [file('gone', 'g'), dir('o/'), file('o/old', 'o'), file('kept', 'k')]],
      ],
      'aufs',
    );
    const v = new MergedFs(L);
    assert.deepEqual(names(v, '/'), ['dev0', 'kept', 'o']);
    assert.equal(v.lookup('/dev0')!.stat.type, 'char', 'a char device is a device under aufs');
    assert.deepEqual(names(v, '/o'), ['new']);
    assert.equal(v.lookup('/.wh.gone'), undefined);
    assert.equal(v.lookup('/gone'), undefined);
  });

  test('aufs Changes: the engine quirks (D of .wh..opq, root metadata skipped but not its children)', async () => {
    const L = await layers(
      [
        ['rw', [file('.wh.gone', ''), dir('o/', { mtime: T1 }), file('o/.wh..wh..opq', ''), file('o/new', 'n'), dir('.wh..wh.plnk/'), file('.wh..wh.plnk/1.2', 'x'), dir('same/'), file('same/f', '1')]],
        ['init', [dir('o/')]],
        ['base', [file('gone', 'g'), dir('o/'), file('o/old', 'o'), dir('same/')]],
      ],
      'aufs',
    );
    assert.deepEqual(kinds(aufsChanges(L[0]!, L.slice(1))), [
      'A /.wh..wh.plnk/1.2',
      'A /o/new',
      'A /same/f',
      'C /.wh..wh.plnk',
      'C /o',
      'C /same',
      'D /gone',
      'D /o/.wh..opq',
    ]);
  });
});

describe('symlinks resolve inside the container root', () => {
  const tree = () =>
    layers([
      [
        'up',
        [
          dir('etc/'),
          file('etc/passwd', 'container passwd'),
          link('etc/abs-in-dir', '/etc/passwd'),
          link('etc/rel-up', '../etc/./passwd'),
          link('abs', '/etc/passwd'),
          link('climb', '../../../../../etc/passwd'),
          link('etc2', 'etc'),
          link('loop1', 'loop2'),
          link('loop2', 'loop1'),
          link('self', 'self'),
          link('dangling', '/nope'),
          link('to-gone', '/data/gone'),
          link('empty', ''),
          ...Array.from({ length: 41 }, (_, i) => link(`c${i}`, i === 40 ? '/etc/passwd' : `c${i + 1}`)),
        ],
      ],
      ['base', [dir('data/'), file('data/gone', 'was here'), wh('nothing')]],
    ]);

  test('absolute targets and .. past the root stay in the container', async () => {
    const v = new MergedFs(await tree());
    assert.equal(read(v, '/abs'), 'container passwd');
    assert.equal(read(v, '/climb'), 'container passwd');
    assert.equal(read(v, '/etc/abs-in-dir'), 'container passwd', 'an absolute target restarts at the container root, not the link\'s directory');
    assert.equal(read(v, '/etc/rel-up'), 'container passwd');
    assert.equal(read(v, '/etc2/passwd'), 'container passwd');
    assert.equal(v.lookup('/etc2/../etc/passwd')!.path, '/etc/passwd');
    assert.equal(v.lookup('/abs', false)!.stat.type, 'symlink');
    assert.equal(v.lookup('/../../etc/passwd')!.path, '/etc/passwd');
  });

  test('loops and long chains are bounded; dangling links are absent', async () => {
    const v = new MergedFs(await tree());
    assert.throws(() => v.lookup('/loop1'), isCode('ELOOP'));
    assert.throws(() => v.lookup('/self/x'), isCode('ELOOP'));
    assert.throws(() => v.lookup('/c0'), isCode('ELOOP'), '41 hops is one too many');
    assert.equal(read(v, '/c1'), 'container passwd', '40 hops is fine');
    assert.equal(v.lookup('/dangling'), undefined);
    assert.equal(v.lookup('/empty'), undefined);
    assert.equal(v.resolveLink(v.lookup('/dangling', false)!), undefined);
    assert.throws(() => v.lookup('/a\0b'), isCode('EBADPATH'));
  });

  test('a layer symlink that points out of the layer never reads the evidence around it', async () => {
    // `../../outside` from inside the layer would reach the tar's other top folder through the source;
    // in the merged view it is a container path and resolves to the container's /outside.
    const L = await layers([['up', [link('esc', '../../secret/file'), link('esc2', '/../secret/file')]], ['secret', [file('file', 'NOT FOR THE CONTAINER')]]]);
    const v = new MergedFs([L[0]!]);
    assert.equal(v.lookup('/esc'), undefined);
    assert.equal(v.lookup('/esc2'), undefined);
  });

  test('a symlink to a whited-out file dangles', async () => {
    const L = await layers([['up', [dir('data/'), wh('data/gone'), link('to-gone', '/data/gone')]], ['base', [dir('data/'), file('data/gone', 'old')]]]);
    const v = new MergedFs(L);
    assert.equal(v.lookup('/to-gone'), undefined);
    assert.deepEqual(
      v.versions('/data/gone').map((x) => `${x.layer}:${x.what}`),
      ['0:whiteout', '1:entry'],
    );
  });
});

describe('walk order, names and filters', () => {
  test('names are byte-sorted (UTF-8), walked pre-order like filepath.Walk', async () => {
    assert.ok(compareNames('é', 'Ａ') < 0 && compareNames('Ａ', '𝒜') < 0, 'UTF-8 byte order, not UTF-16');
    assert.ok('Ａ' > '𝒜', 'UTF-16 order would differ');
    const L = await layers([['up', [dir('a/'), file('a/b', '1'), file('a-b', '2'), file('A', '3'), file('𝒜', '4'), file('Ａ', '5')]]]);
    const v = new MergedFs(L);
    assert.deepEqual([...v.walk(v.root()!)].map((e) => e.path), ['/A', '/a', '/a/b', '/a-b', '/Ａ', '/𝒜']);
  });

  test('find: globs, types, times, layers, depth', async () => {
    const L = await layers([
      ['up', [dir('etc/'), file('etc/new.conf', 'n', { mtime: T1 }), dir('etc/sub/'), file('etc/sub/deep.conf', 'd', { mtime: T1 })]],
      ['base', [dir('etc/'), file('etc/old.conf', 'o'), file('etc/other', 'x'), link('etc/lnk', 'other')]],
    ]);
    const v = new MergedFs(L);
    const find = (f: Parameters<typeof findEntries>[2], p = '/') => [...findEntries(v, v.lookup(p)!, f)].map((e) => e.path);
    assert.deepEqual(find({ names: ['*.conf'] }), ['/etc/new.conf', '/etc/old.conf', '/etc/sub/deep.conf']);
    assert.deepEqual(find({ names: ['*.conf'], maxDepth: 1 }, '/etc'), ['/etc/new.conf', '/etc/old.conf']);
    assert.deepEqual(find({ types: ['l'] }), ['/etc/lnk']);
    assert.deepEqual(find({ newerThanNs: BigInt(T0.getTime()) * 1_000_000n, types: ['f'] }), ['/etc/new.conf', '/etc/sub/deep.conf']);
    assert.deepEqual(find({ layer: 'image', types: ['f'] }), ['/etc/old.conf', '/etc/other']);
    assert.ok(globToRegExp('[!a-c]?.t*').test('dx.txt') && !globToRegExp('[!a-c]?.t*').test('bx.txt'));
    assert.equal(parseTimeNs('2023-11-14T22:13:20Z'), 1_700_000_000_000_000_000n);
    assert.equal(parseTimeNs('2023-11-14T23:13:20.5+01:00'), 1_700_000_000_500_000_000n);
    assert.equal(parseTimeNs('1700000000.000000001'), 1_700_000_000_000_000_001n);
    assert.throws(() => parseTimeNs('yesterday'));
  });
});

describe('changes (naive differ, moby rules)', () => {
  const st = (o: Partial<Stat>): Stat => ({ type: 'file', size: 1, mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_000_000_000_000_000_000n, nlink: 1, inode: 'i', rdevMajor: 0, rdevMinor: 0, ...o });

  test('statDifferent and sameFsTime', () => {
    assert.equal(sameFsTime(5_000_000_001n, 5_000_000_000n), true, 'either nanosecond part 0: seconds decide');
    assert.equal(sameFsTime(5_000_000_001n, 5_000_000_002n), false);
    assert.equal(statDifferent(st({}), st({ mode: 0o600 })), true);
    assert.equal(statDifferent(st({ type: 'dir' }), st({ type: 'dir', mtimeNs: 7n, size: 99 })), false, 'dirs: no size or mtime');
    assert.equal(statDifferent(st({}), st({ mtimeNs: 7n })), true);
    assert.equal(statDifferent(st({ type: 'block' }), st({ type: 'block', mtimeNs: 7n, size: 9 })), false, 'S_IFBLK has the S_IFDIR bit: Go quirk kept');
    assert.equal(statDifferent(st({ type: 'char', rdevMajor: 1 }), st({ type: 'char', rdevMajor: 2 })), true);
  });

  test('A/C/D, parents reported, whole-dir delete is one D, opaque recreate, type changes, chmod, caps', async () => {
    const capA = { 'SCHILY.xattr.security.capability': 'AAAA' };
    const capB = { 'SCHILY.xattr.security.capability': 'BBBB' };
    const L = await layers([
      [
        'rw',
        [
          dir('a/'),
          dir('a/b/'),
          file('a/b/new', 'n'),
          wh('olddir'),
          dir('redo/', { pax: OPAQUE }),
          file('redo/g', 'g'),
          dir('f2d/'),
          file('f2d/inside', 'i'),
          file('d2f', 'x'),
          file('chm', 'c', { mode: 0o600 }),
          file('touched', 'same', { mtime: new Date(T0.getTime() + 1000) }),
          file('copied', 'same'),
          dir('mt/', { mtime: T1 }),
          file('cap', 'c', { pax: capB }),
          dir('newdir/'),
          dir('newdir/sub/'),
          file('newdir/sub/x', 'x'),
          file('chown', 'same'),
          dir('chowndir/'),
        ],
      ],
      ['init', [dir('a/'), file('.dockerenv', '')]],
      [
        'img',
        [
          dir('a/'),
          dir('a/b/'),
          dir('olddir/'),
          dir('olddir/deep/'),
          file('olddir/deep/f', 'f'),
          dir('redo/'),
          file('redo/f', 'f'),
          file('f2d', 'was file'),
          dir('d2f/'),
          file('d2f/child', 'c'),
          file('chm', 'c'),
          file('touched', 'same'),
          file('copied', 'same'),
          dir('mt/'),
          file('cap', 'c', { pax: capA }),
          dir('untouched/'),
          file('untouched/u', 'u'),
          file('chown', 'same'),
          dir('chowndir/'),
        ],
      ],
    ]);
    L[0] = { ...L[0]!, src: withStats(L[0]!.src, { chown: { uid: 1000 }, chowndir: { gid: 50 } }) };
    const got = naiveChanges(new MergedFs(L), new MergedFs(L.slice(1)));
    assert.deepEqual(kinds(got), [
      'A /a/b/new',
      'A /f2d/inside',
      'A /newdir',
      'A /newdir/sub',
      'A /newdir/sub/x',
      'A /redo/g',
      'C /a',
      'C /a/b',
      'C /cap',
      'C /chm',
      'C /chown',
      'C /chowndir',
      'C /d2f',
      'C /f2d',
      'C /redo',
      'C /touched',
      'D /olddir',
      'D /redo/f',
    ]);
    // `copied` (same time, size, mode) and `mt/` (a directory whose mtime alone changed) are not
    // changes; the init layer's /.dockerenv is in both views; `untouched/` is never listed.
  });

  test('a missing base compares with an empty tree: everything is added, the root never', async () => {
    const L = await layers([['rw', [dir('x/'), file('x/y', '1')]]]);
    assert.deepEqual(kinds(naiveChanges(new MergedFs(L), undefined)), ['A /x', 'A /x/y']);
  });
});

describe('export (tar-stream, docker export rules)', () => {
  async function entriesOf(tar: Buffer) {
    const out: { name: string; type: string; linkname?: string | null; size: number; mode: number; uid: number; devmajor?: number; pax?: Record<string, string>; body: Buffer }[] = [];
    const ex = tarStream.extract();
    const done = (async () => {
      for await (const e of ex) {
        const chunks: Buffer[] = [];
        for await (const c of e) chunks.push(c as Buffer);
        const h = e.header;
        out.push({ name: h.name, type: h.type!, linkname: h.linkname, size: h.size ?? 0, mode: h.mode ?? 0, uid: h.uid ?? 0, devmajor: h.devmajor, pax: h.pax as Record<string, string> | undefined, body: Buffer.concat(chunks) });
      }
    })();
    ex.end(tar);
    await done;
    return out;
  }

  async function exportOf(view: MergedFs) {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const summary = await writeExport(view, sink);
    return { summary, tar: Buffer.concat(chunks) };
  }

  test('hard links within the merged view, broken by copy-up or whiteout; devices; dirs with /', async () => {
    const L = await layers([
      ['up', [file('copy', 'changed'), dir('d/'), wh('d/gone-link')]],
      ['base', [file('orig', 'shared'), hard('alias', 'orig'), file('copy', 'shared?'), hard('copy2', 'copy'), dir('d/'), file('d/solo', 's'), hard('d/gone-link', 'd/solo'), { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: T0 }, { name: 'pipe', type: 'fifo', mtime: T0 }]],
    ]);
    const v = new MergedFs(L);
    const plan = [...exportPlan(v)].map((x) => [x.name, x.type, x.linkname ?? '', x.size]);
    assert.deepEqual(plan, [
      ['alias', 'file', '', 6],
      ['copy', 'file', '', 7],
      ['copy2', 'file', '', 7],
      ['d/', 'directory', '', 0],
      ['d/solo', 'file', '', 1],
      ['null', 'character-device', '', 0],
      ['orig', 'link', 'alias', 0],
      ['pipe', 'fifo', '', 0],
    ]);
    const { summary, tar } = await exportOf(v);
    assert.equal(summary.hardlinks, 1);
    const got = await entriesOf(tar);
    assert.deepEqual(got.map((e) => [e.name, e.type, e.linkname ?? '', e.body.toString()]), [
      ['alias', 'file', '', 'shared'],
      ['copy', 'file', '', 'changed'],
      ['copy2', 'file', '', 'shared?'],
      ['d/', 'directory', '', ''],
      ['d/solo', 'file', '', 's'],
      ['null', 'character-device', '', ''],
      ['orig', 'link', 'alias', ''],
      ['pipe', 'fifo', '', ''],
    ]);
    assert.equal(got.find((e) => e.name === 'null')!.devmajor, 1);
  });

  test('binary security.capability, long and non-ASCII names survive; revision 3 caps become revision 2', async () => {
    const longName = `${'x'.repeat(120)}/é-${'y'.repeat(110)}`;
    const L = await layers([['up', [dir(`${'x'.repeat(120)}/`), file(longName, 'long'), file('ping', 'elf'), file('v3', 'v3'), link('ln', `/${'t'.repeat(150)}`)]]]);
    const cap2 = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x80, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0]);
    const cap3 = Buffer.concat([Buffer.from([0x01, 0x00, 0x00, 0x03]), cap2.subarray(4), Buffer.from([0xe8, 0x03, 0, 0])]);
    const v = new MergedFs([{ ...L[0]!, src: withXattrs(L[0]!.src, { ping: { 'security.capability': cap2 }, v3: { 'security.capability': cap3 } }) }]);
    const got = await entriesOf((await exportOf(v)).tar);
    assert.deepEqual(got.map((e) => e.name), ['ln', 'ping', 'v3', `${'x'.repeat(120)}/`, longName]);
    assert.equal(got.find((e) => e.name === longName)!.body.toString(), 'long');
    assert.equal(got.find((e) => e.name === 'ln')!.linkname, `/${'t'.repeat(150)}`);
    // tar-stream's reader decodes PAX values as UTF-8, so the raw bytes are checked in the archive itself.
    const tar = (await exportOf(v)).tar;
    const rec = Buffer.concat([Buffer.from(' SCHILY.xattr.security.capability='), cap2, Buffer.from('\n')]);
    assert.ok(tar.includes(rec), 'capability bytes (0x80, 0xff…) written verbatim');
    const rec3 = Buffer.concat([Buffer.from(' SCHILY.xattr.security.capability='), Buffer.from([1, 0, 0, 2]), cap2.subarray(4), Buffer.from('\n')]);
    assert.ok(tar.includes(rec3), 'a VFS_CAP_REVISION_3 value is written as revision 2, 20 bytes');
    // GNU tar reads it back as the same names.
    const list = execFileSync('tar', ['-tf', '-'], { input: tar, encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(list, got.map((e) => e.name));
  });

  test('uids and gids above 262143 (6 octal digits in tar-stream) go to PAX, not clamped to 262143', async () => {
    // The docker-explorer archives' files belong to uid 338377: tar-stream would write 777777.
    const L = await layers([['up', [file('a', 'a'), file('b', 'b')]]]);
    const v = new MergedFs([{ ...L[0]!, src: withStats(L[0]!.src, { a: { uid: 338377, gid: 5000 }, b: { uid: 262143, gid: 2_500_000 } }) }]);
    const tar = (await exportOf(v)).tar;
    const list = execFileSync('tar', ['--numeric-owner', '-tvf', '-'], { input: tar, encoding: 'utf8' }).trim().split('\n');
    assert.match(list[0]!, / 338377\/5000 .* a$/);
    assert.match(list[1]!, / 262143\/2500000 .* b$/);
  });

  test('a file whose bytes run short is zero-filled to its recorded size, and said so', async () => {
    const L = await layers([['up', [file('f', 'abc')]]]);
    const v = new MergedFs(L);
    const e = v.lookup('/f')!;
    e.stat = { ...e.stat, size: 10 };
    // The evidence claims 10 bytes where 3 are: the tar must stay well-formed.
    v.list = () => [e];
    const { summary, tar } = await exportOf(v);
    const got = await entriesOf(tar);
    assert.equal(got[0]!.body.toString('latin1'), 'abc\0\0\0\0\0\0\0');
    assert.match(summary.problems.join('\n'), /short/);
  });

  test('refuses output inside the evidence, onto the archive, or through a symlink', () => {
    const top = tmpDir();
    fs.mkdirSync(path.join(top, 'ev'));
    fs.writeFileSync(path.join(top, 'ev.tar'), 'x');
    fs.symlinkSync(path.join(top, 'ev'), path.join(top, 'ev-link'));
    fs.linkSync(path.join(top, 'ev.tar'), path.join(top, 'ev-hard.tar'));
    const dirEv = { kind: 'dir' as const, location: path.join(top, 'ev'), spec: path.join(top, 'ev') };
    const tarEv = { kind: 'tar' as const, location: '/', spec: path.join(top, 'ev.tar') };
    assert.match(unsafeOutput(path.join(top, 'ev/out.tar'), dirEv)!, /inside the evidence/);
    assert.match(unsafeOutput(path.join(top, 'ev-link/sub/../out.tar'), dirEv) ?? 'refused (no such dir)', /inside the evidence|does not exist/);
    assert.match(unsafeOutput(path.join(top, 'ev-link/out.tar'), dirEv)!, /inside the evidence/);
    assert.equal(unsafeOutput(path.join(top, 'out.tar'), dirEv), undefined);
    assert.match(unsafeOutput(path.join(top, 'ev.tar'), tarEv)!, /evidence archive/);
    assert.match(unsafeOutput(path.join(top, 'ev-hard.tar'), tarEv)!, /hard link/);
    assert.match(unsafeOutput(path.join(top, 'ev-link'), dirEv)!, /symbolic link/);
    assert.equal(unsafeOutput(path.join(top, 'other.tar'), tarEv), undefined);
  });
});

describe('real directories (root: mknod, setfattr)', { skip: process.getuid?.() === 0 ? false : 'needs root for char devices and trusted.* xattrs' }, () => {
  test('overlay2-style layers on disk: whiteout devices, trusted.overlay.opaque, hard links, sockets skipped on export', async () => {
    const top = tmpDir();
    const mk = (p: string) => fs.mkdirSync(path.join(top, p), { recursive: true });
    const w = (p: string, s: string) => fs.writeFileSync(path.join(top, p), s);
    mk('up/o');
    mk('base/o');
    mk('base/d');
    w('base/o/hidden', 'h');
    w('base/d/gone', 'g');
    w('base/d/f', 'f');
    fs.linkSync(path.join(top, 'base/d/f'), path.join(top, 'base/d/f-link'));
    w('up/o/new', 'n');
    mk('up/d');
    execFileSync('mknod', [path.join(top, 'up/d/gone'), 'c', '0', '0']);
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(top, 'up/o')]);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(path.join(top, 'up/sock'), r));
    try {
      const src = new DirSource(top);
      assert.equal(src.hasXattrs, true);
      const L: LayerDir[] = ['up', 'base'].map((id, i) => ({ id, src: src.sub(id), whiteouts: 'overlay', role: i ? 'image' : 'upper', path: id, index: 0 }));
      const v = new MergedFs(L);
      assert.deepEqual([...v.walk(v.root()!)].map((e) => e.path), ['/d', '/d/f', '/d/f-link', '/o', '/o/new', '/sock']);
      const skipped: { path: string; reason: string }[] = [];
      const plan = [...exportPlan(v, skipped)].map((x) => `${x.name} ${x.type} ${x.linkname ?? ''}`.trim());
      assert.deepEqual(plan, ['d/ directory', 'd/f file', 'd/f-link link d/f', 'o/ directory', 'o/new file']);
      assert.deepEqual(skipped.map((s) => s.path), ['/sock']);
      assert.deepEqual(kinds(naiveChanges(v, new MergedFs(L.slice(1)))), ['A /o/new', 'A /sock', 'C /d', 'C /o', 'D /d/gone', 'D /o/hidden']);
    } finally {
      server.close();
    }
  });
});

test('text for a terminal keeps newlines and tabs, escapes everything else, never clips', () => {
  assert.equal(ttySafeText('a\tb\n\x1b]0;pwned\x07\rX\u202e'), 'a\tb\n\\x1b]0;pwned\\x07\\rX\\u{202e}');
  const long = 'x'.repeat(200_000);
  assert.equal(ttySafeText(long), long);
});

describe('the pruned differ equals a full-tree comparison (random layer stacks)', () => {
  /** Small deterministic PRNG (mulberry32). */
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  function randomLayer(r: () => number, canDelete: boolean, prefix = '', depth = 0): TarEntry[] {
    const out: TarEntry[] = [];
    for (const n of ['a', 'b', 'c', 'd']) {
      const x = r();
      if (x < 0.35) continue;
      const p = `${prefix}${n}`;
      if (x < 0.6 || depth >= 2) {
        out.push(file(p, 'x'.repeat(Math.floor(r() * 3)), { mode: r() < 0.2 ? 0o755 : 0o644, mtime: r() < 0.3 ? T1 : T0 }));
      } else if (x < 0.85 || !canDelete) {
        out.push(dir(`${p}/`, { mode: r() < 0.1 ? 0o700 : 0o755, mtime: r() < 0.5 ? T1 : T0, pax: canDelete && r() < 0.15 ? OPAQUE : undefined }));
        out.push(...randomLayer(r, canDelete, `${p}/`, depth + 1));
      } else {
        out.push(wh(p));
      }
    }
    return out;
  }

  interface Node {
    path: string;
    stat: Stat;
    cap?: string;
    children: Map<string, Node>;
  }

  function tree(v: MergedFs): Node {
    const build = (e: ReturnType<MergedFs['root']> & {}): Node => {
      const n: Node = { path: e.path, stat: e.stat, cap: v.xattrs(e).get('security.capability')?.toString('hex'), children: new Map() };
      if (e.stat.type === 'dir') for (const c of v.list(e)) n.children.set(c.name, build(c));
      return n;
    };
    return build(v.root()!);
  }

  /** moby FileInfo.addChanges, transcribed without any pruning. */
  function reference(newRoot: Node, oldRoot: Node): Set<string> {
    const changes: string[] = [];
    const isDir = (n: Node) => n.path === '/' || ['dir', 'block', 'socket'].includes(n.stat.type);
    const add = (info: Node, old: Node | undefined, added: boolean) => {
      const at = changes.length;
      if (!old) {
        changes.push(`A ${info.path}`);
        added = true;
      }
      const oldChildren = new Map(old && isDir(info) ? old.children : []);
      for (const [name, child] of info.children) {
        const oc = oldChildren.get(name);
        let childAdded = false;
        if (oc) {
          if (statDifferent(oc.stat, child.stat) || oc.cap !== child.cap) {
            changes.push(`C ${child.path}`);
            childAdded = true;
          }
          oldChildren.delete(name);
        }
        add(child, oc, childAdded);
      }
      for (const oc of oldChildren.values()) changes.push(`D ${oc.path}`);
      if (changes.length > at && isDir(info) && !added && info.path !== '/') changes.splice(at, 0, `C ${info.path}`);
    };
    add(newRoot, oldRoot, false);
    return new Set(changes);
  }

  test('300 random stacks (upper, init, two image layers)', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const L = await layers([
        ['up', randomLayer(r, true)],
        ['init', randomLayer(r, true)],
        ['mid', randomLayer(r, true)],
        ['base', randomLayer(r, false)],
      ]);
      const nv = new MergedFs(L);
      const ov = new MergedFs(L.slice(1));
      const got = new Set(kinds(naiveChanges(nv, ov)));
      const want = reference(tree(nv), tree(ov));
      assert.deepEqual([...got].sort(), [...want].sort(), `seed ${seed}`);
    }
  });
});

test('--long flags: ELF, scripts, setuid/setgid, capabilities, devices, persistence and account paths', async () => {
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(64)]);
  const L = await layers([
    [
      'up',
      [
        dir('bin/'),
        file('bin/implant', elf.toString('latin1'), { mode: 0o755 }),
        file('bin/sgid', '#!/bin/sh\n', { mode: 0o2755 }),
        file('bin/capped', 'x'),
        { name: 'kmem', type: 'character-device', devmajor: 1, devminor: 2, mtime: T0 },
        dir('etc/'),
        file('etc/ld.so.preload', '/lib/evil.so'),
        file('etc/shadow', 'root:*:'),
        dir('etc/systemd/'),
        dir('etc/systemd/system/'),
        file('etc/systemd/system/x.service', '[Service]'),
        dir('home/'),
        dir('home/u/'),
        file('home/u/.bashrc', 'curl | sh'),
      ],
    ],
  ]);
  // Buffers go into the test tar as latin1 text; TarSource returns the same bytes.
  const up = withXattrs(L[0]!.src, { 'bin/capped': { 'security.capability': Buffer.from([1, 0, 0, 2]) } });
  const view = new MergedFs([{ ...L[0]!, src: up }]);
  const changes = naiveChanges(view, undefined);
  const d = { changes, view } as unknown as DiffResult;
  const rows = new Map((await longChanges(d)).map((r) => [r.Path, r]));
  const f = (p: string) => rows.get(p)!.flags;
  assert.deepEqual(f('/bin/implant'), ['executable', 'elf']);
  assert.deepEqual(f('/bin/sgid'), ['executable', 'setgid', 'script']);
  assert.deepEqual(f('/bin/capped'), ['capabilities']);
  assert.deepEqual(f('/kmem'), ['device']);
  assert.deepEqual(f('/etc/ld.so.preload'), ['persistence:ld-preload']);
  assert.deepEqual(f('/etc/shadow'), ['accounts']);
  assert.deepEqual(f('/etc/systemd/system/x.service'), ['persistence:systemd']);
  assert.deepEqual(f('/home/u/.bashrc'), ['persistence:shell-rc', 'hidden']);
  assert.match(rows.get('/bin/implant')!.sha256!, /^[0-9a-f]{64}$/);
  assert.deepEqual(pathFlags('/etc/sudoers.d/evil'), ['accounts']);
  assert.deepEqual(pathFlags('/root/.ssh/authorized_keys'), ['persistence:ssh-key']);
  assert.deepEqual(pathFlags('/var/spool/cron/crontabs/root'), ['persistence:cron']);
  assert.deepEqual(pathFlags('/tmp/ '), ['odd-name']);
});
