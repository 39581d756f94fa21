import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test/...). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/**
 * Where the real-engine fixtures are: the project's own, or (DOCKSCOPE_FIXTURES) a folder of
 * captures the tests have never seen, e.g. from `scripts/capture-fixture.sh --extra-seed N`.
 */
export const HOLDOUT = Boolean(process.env.DOCKSCOPE_FIXTURES);
export const FIXTURES = process.env.DOCKSCOPE_FIXTURES ? path.resolve(process.env.DOCKSCOPE_FIXTURES) : path.join(REPO, 'fixtures');

export interface Fixture {
  name: string;
  dir: string;
  archive: string;
  /** The data root path the engine used (from the README), which the archive's answers embed. */
  originalRoot: string;
}

/** Real-engine fixtures with an archive and oracles, optionally filtered by a predicate on the name. */
export function listFixtures(filter: (name: string) => boolean = () => true): Fixture[] {
  if (!fs.existsSync(FIXTURES)) return [];
  return fs
    .readdirSync(FIXTURES)
    .filter(filter)
    .map((name) => {
      const dir = path.join(FIXTURES, name);
      const archive = path.join(dir, 'data-root.tar.gz');
      const readme = fs.existsSync(path.join(dir, 'README.md')) ? fs.readFileSync(path.join(dir, 'README.md'), 'utf8') : '';
      const m = /original data root \| `([^`]+)`/.exec(readme);
      return { name, dir, archive, originalRoot: m ? m[1]! : '/var/lib/docker' };
    })
    .filter((f) => fs.existsSync(f.archive) && fs.existsSync(path.join(f.dir, 'oracles')));
}

export function oracle<T = unknown>(f: Fixture, rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(f.dir, 'oracles', rel), 'utf8')) as T;
}

export function oracleFiles(f: Fixture, rel: string): string[] {
  const d = path.join(f.dir, 'oracles', rel);
  return fs.existsSync(d) ? fs.readdirSync(d).sort() : [];
}

/** Extraction of devices and trusted.* xattrs needs root. */
export function canExtract(): boolean {
  return process.getuid?.() === 0;
}

const extracted = new Map<string, string>();

/**
 * Extracts a fixture archive as an investigator would (as root, keeping devices and xattrs) into
 * a temp dir once per test process; returns the extraction top.
 */
export function extractFixture(f: Fixture): string {
  const hit = extracted.get(f.name);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dockscope-${f.name}-`));
  execFileSync('tar', ['-C', dir, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-xzf', f.archive]);
  extracted.set(f.name, dir);
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
