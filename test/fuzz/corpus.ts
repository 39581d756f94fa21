/**
 * Where fuzz inputs live on disk and how they are read and written:
 *   test/fuzz/seeds/<target>/    real artifacts from the fixtures and hand-made edge cases
 *   test/fuzz/corpus/<target>/   inputs a run found interesting (a finding code no earlier input
 *                                reached, or slow), and minimised reproductions of fixed bugs
 *                                (`crash-*`), replayed by every CI run
 *   test/fuzz/crashes/           what a failing run left: `<target>-<sig>.raw.<ext>` as found and
 *                                `<target>-<sig>.<ext>` minimised, with a `.txt` saying why
 * Trees are .tgz acquisitions; everything else is the artifact's own bytes. A saved input's name
 * may carry `.r<n>.`: the run seed (chunking and option choices) it failed with.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers/fixtures.js';
import { shortHash } from './engine.js';
import type { Input, Target } from './targets.js';
import { isTree, tgzToTree, treeToTgz } from './tree.js';

export const FUZZ_DIR = path.join(REPO, 'test', 'fuzz');
export const SEEDS = path.join(FUZZ_DIR, 'seeds');
export const CORPUS = path.join(FUZZ_DIR, 'corpus');
export const CRASHES = path.join(FUZZ_DIR, 'crashes');

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith('.') && !n.endsWith('.txt') && !n.endsWith('.md'))
    .sort()
    .map((n) => path.join(dir, n));
}

export async function readInput(target: Target, file: string): Promise<Input> {
  const buf = fs.readFileSync(file);
  return target.kind === 'tree' ? tgzToTree(buf) : buf;
}

/** Seeds then corpus entries of a target, as files. */
export function inputFiles(target: Target): string[] {
  return [...listFiles(path.join(SEEDS, target.seeds ?? target.name)), ...listFiles(path.join(CORPUS, target.name))];
}

export async function loadInitial(target: Target): Promise<{ file: string; input: Input }[]> {
  const out: { file: string; input: Input }[] = [];
  for (const file of inputFiles(target)) out.push({ file: path.relative(REPO, file), input: await readInput(target, file) });
  return out;
}

export async function encodeInput(input: Input): Promise<Buffer> {
  return isTree(input) ? treeToTgz(input) : input;
}

/** Writes an input under `dir` as `<prefix><hash>[.r<seed>]<ext>`; returns the path (no-op if present). */
export async function saveInput(dir: string, target: Target, input: Input, prefix: string, runSeed?: number, note?: string): Promise<string> {
  const bytes = await encodeInput(input);
  fs.mkdirSync(dir, { recursive: true });
  const seedPart = runSeed ? `.r${runSeed >>> 0}` : '';
  const file = path.join(dir, `${prefix}${shortHash(bytes)}${seedPart}${target.ext}`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, bytes);
  if (note !== undefined) fs.writeFileSync(file.replace(/(\.json\.gz|\.[^./]+)$/, '') + '.txt', note);
  return file;
}
