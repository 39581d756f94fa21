/**
 * Read-only, provably: a full metadata snapshot of an extracted real-engine store (type, size,
 * mode, owner, mtime, ctime, content hash; atime of regular files, which we open with
 * O_NOATIME; not of directories, whose atime the kernel may update on readdir) is taken before and after running every command on it, and must not change; as
 * root, every command is also run on a read-only bind mount and must answer the same.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';
import { canExtract, extractFixture, listFixtures, REPO } from '../helpers/fixtures.js';

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

/** Every command, with the options that read the most; outputs go to `out`, outside the evidence. */
function everyCommand(out: string): string[][] {
  return [
    ['info', '-v'],
    ['images', '-a'],
    ['image', 'fx/app:1'],
    ['history', 'fx/app:2'],
    ['chain', 'fx'],
    ['containers', '-a', '--no-trunc'],
    ['container', 'changes', '--mounts'],
    ['container', 'evil'],
    ['verify'],
    ['orphans'],
    ['volumes'],
    ['networks'],
    ['logs', 'logs', '--timestamps'],
    ['logs', 'logs-local'],
    ['diff', 'changes', '--long'],
    ['fs', 'changes', 'ls', '/'],
    ['fs', 'changes', 'stat', '/etc/passwd'],
    ['fs', 'changes', 'cat', '/etc/passwd'],
    ['fs', 'changes', 'find', '/', '--name', '*'],
    ['export', 'changes', '-o', path.join(out, 'changes.tar')],
    ['save', 'fx/app:1', '-o', path.join(out, 'app.tar')],
    ['timeline'],
    ['timeline', '--format', 'bodyfile'],
    ['audit'],
  ];
}

const AGE = /\b(?:\d+|an?|About an?|Less than a) (?:second|minute|hour|day|week|month|year)s?\b/g;

/** Exit codes that are answers (0 ok, 3 partial, 4 tampered, 5 unchecked, 6 audit high); chain "fx" is ambiguous (1). */
function answered(c: string[], code: number): boolean {
  return [0, 3, 4, 5, 6].includes(code) || (c[0] === 'chain' && code === 1);
}

function runAll(evidence: string, outTop: string, run: (args: string[]) => { code: number; stdout: string; stderr: string } = cli): Map<string, string> {
  const seen = new Map<string, string>();
  // outputs already there are refused (--force overwrites): a fresh folder per run
  const out = fs.mkdtempSync(path.join(outTop, 'run-'));
  for (const c of everyCommand(out))
    for (const json of [false, true]) {
      if (json && ['export', 'save', 'logs', 'fs'].includes(c[0]!)) continue;
      const args = ['--root', evidence, ...c, ...(json ? ['--json'] : [])];
      const r = run(args);
      assert.ok(answered(c, r.code), `${args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      // ps-style ages ("Exited (0) 4 hours ago", "Up 3 hours") count from now and may roll over between runs
      const stdout = r.stdout.replaceAll(out, '<out>').replace(AGE, '<age>');
      seen.set(`${c.join(' ')}${json ? ' --json' : ''}`.replaceAll(out, '<out>'), `${r.code}\n${stdout}`);
    }
  for (const n of fs.readdirSync(out).sort()) seen.set(`<out>/${n}`, createHash('sha256').update(fs.readFileSync(path.join(out, n))).digest('hex'));
  return seen;
}

test('no command changes anything in the evidence', { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () => {
  const top = extractFixture(f);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-ro-out-'));
  try {
    const archiveBefore = snapshot(f.dir);
    const before = snapshot(top);
    const root = path.join(top, 'var/lib/docker');
    runAll(root, out);
    for (const c of [['info'], ['verify'], ['timeline'], ['export', 'changes', '-o', path.join(out, 'a.tar')]]) assert.ok(answered(c, cli(['--root', f.archive, ...c]).code), c.join(' '));
    assert.equal(cli(['--root', top, 'info']).code, 0);
    const after = snapshot(top);
    assert.equal(after.size, before.size);
    for (const [p, rec] of before) assert.equal(after.get(p), rec, p);
    assert.deepEqual(snapshot(f.dir), archiveBefore);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

/** Can this process make a private mount namespace with a read-only bind mount (root, CAP_SYS_ADMIN)? */
function canBindReadOnly(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'd=$(mktemp -d) && mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" "$d" && ! touch "$d/x" 2>/dev/null'], { encoding: 'utf8' });
  return r.status === 0;
}

test('every command works on a read-only bind mount of the evidence, with the same answers', { skip: canExtract() && canBindReadOnly() ? false : 'needs root and mount namespaces' }, () => {
  // The kernel refuses any write, so a code path that tried one would fail here even if it left
  // no trace in the snapshot above; the answers must equal those on the writable copy.
  const top = extractFixture(f);
  const root = path.join(top, 'var/lib/docker');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-ro-out-'));
  try {
    // Answers on the writable copy are taken again here, not reused from the test above: listing a
    // directory on a writable mount may update its atime (relatime; Node cannot readdir through an
    // O_NOATIME descriptor), and the bodyfile timeline shows directory atimes.
    const writable = runAll(root, out);
    const inNamespace = (args: string[]) => {
      // each run gets a private mount namespace, so the bind mount dies with it
      const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && touch "$1/.probe" 2>/dev/null && exit 99; shift; exec "$@"';
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', top, process.execPath, path.join(REPO, 'bin/dockscope.js'), ...args], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        maxBuffer: 64 << 20,
      });
      assert.notEqual(r.status, 99, 'the bind mount was writable');
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const readOnly = runAll(root, out, inNamespace);
    assert.deepEqual([...readOnly.keys()], [...writable.keys()]);
    for (const [k, v] of writable) assert.equal(readOnly.get(k), v, k);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
