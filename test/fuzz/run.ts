/**
 * The fuzzer from the command line (after `tsc -p .`):
 *
 *   node dist/test/fuzz/run.js --seconds 600            long run over every target, saving what it finds
 *   node dist/test/fuzz/run.js --target bbolt,volumes --seconds 120 --seed 42
 *   node dist/test/fuzz/run.js --target tarsplit --seed 7 --iterations 5000   replay a run exactly
 *   node dist/test/fuzz/run.js --replay test/fuzz/crashes/tarsplit-….min.json.gz   run saved inputs once
 *   node dist/test/fuzz/run.js --list
 *   node dist/test/fuzz/run.js --cmin [--target t]   shrink corpus/: fewer, smaller entries, same codes
 *
 * Options: --seconds N (whole run, split over targets; default 600), --workers N (default: CPUs),
 * --seed N (default: random, printed), --timeout MS (one input; default 3000), --slow MS (default
 * 500), --minimize MS (default 10000), --no-save (do not write to corpus/), --iterations N.
 * Exit status 1 when anything crashed or hung.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { REPO } from '../helpers/fixtures.js';
import { CORPUS, inputFiles, readInput, saveInput } from './corpus.js';
import { features, minimizeFor, runInput, runSeedOf, signatureOf } from './engine.js';
import { runFuzz } from './pool.js';
import { TARGETS, targetByName, type Input } from './targets.js';
import { TarSource } from '../../src/source/tar.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const has = (name: string) => process.argv.includes(`--${name}`);

if (has('list')) {
  for (const t of TARGETS) console.log(`${t.name.padEnd(17)} ${t.kind.padEnd(5)} ${t.about}`);
  process.exit(0);
}

if (has('replay')) {
  const args = process.argv.slice(2);
  const files = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--target', '--timeout'].includes(args[i - 1]!)));
  const timeoutMs = Number(arg('timeout') ?? 10_000);
  let bad = 0;
  for (const file of files) {
    const base = path.basename(file);
    const dir = path.basename(path.dirname(file));
    const name = arg('target') ?? (TARGETS.some((t) => t.name === dir) ? dir : TARGETS.map((t) => t.name).sort((a, b) => b.length - a.length).find((n) => base.startsWith(`${n}-`)));
    if (!name) {
      console.error(`${file}: cannot tell the target; pass --target`);
      bad++;
      continue;
    }
    const target = targetByName(name);
    const input = await readInput(target, file);
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      // An input whose promise never settles would let the process end quietly: race a timer.
      const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(`no answer after ${timeoutMs} ms`), { name: 'Hang' })), timeoutMs)));
      const out = await Promise.race([runInput(target, input, runSeedOf(file), target.kind === 'tree' && has('tar') ? () => TarSource.open(path.resolve(file)) : undefined), hung]);
      console.log(`ok    ${file} (${name}, ${Math.round(performance.now() - t0)} ms): ${features(out).join(' ')}`);
    } catch (e) {
      bad++;
      const err = e as Error;
      console.log(`FAIL  ${file} (${name}): ${signatureOf({ name: err.name, message: err.message, stack: err.stack ?? '' })}\n${err.stack}`);
    } finally {
      clearTimeout(timer);
    }
  }
  process.exit(bad ? 1 : 0);
}

if (has('cmin')) {
  // Corpus minimisation: keep an entry only if it reaches a finding code nothing smaller (and no
  // seed) reaches, shrink it to what still reaches those codes, keep a couple of slow inputs.
  const budget = Number(arg('minimize') ?? 5000);
  const keepSlow = Number(arg('keep-slow') ?? 2);
  for (const target of (arg('target')?.split(',') ?? TARGETS.map((t) => t.name)).map(targetByName)) {
    const dir = path.join(CORPUS, target.name);
    if (!fs.existsSync(dir)) continue;
    const covered = new Set<string>();
    const codesOf = async (file: string, input: Input) => features(await runInput(target, input, runSeedOf(file))).filter((c) => !c.startsWith('#'));
    for (const file of inputFiles(target).filter((f) => !f.startsWith(dir) || path.basename(f).startsWith('crash-'))) {
      try {
        for (const c of await codesOf(file, await readInput(target, file))) covered.add(c);
      } catch (e) {
        console.log(`FAIL  ${path.relative(REPO, file)}: ${(e as Error).message}`);
      }
    }
    const entries = fs
      .readdirSync(dir)
      .filter((n) => !n.endsWith('.txt') && !n.startsWith('crash-'))
      .map((n) => path.join(dir, n))
      .sort((a, b) => fs.statSync(a).size - fs.statSync(b).size);
    const index: string[] = [];
    const slow: { file: string; ms: number }[] = [];
    for (const file of entries) {
      const input = await readInput(target, file);
      const t0 = performance.now();
      let codes: string[];
      try {
        codes = await codesOf(file, input);
      } catch (e) {
        console.log(`FAIL  ${path.relative(REPO, file)}: ${(e as Error).message} (kept)`);
        continue;
      }
      if (path.basename(file).startsWith('slow-')) {
        slow.push({ file, ms: performance.now() - t0 });
        continue;
      }
      const fresh = codes.filter((c) => !covered.has(c));
      fs.rmSync(file);
      if (fresh.length === 0) continue;
      for (const c of codes) covered.add(c);
      const small = await minimizeFor(target, input, runSeedOf(file), fresh, budget);
      const kept = await saveInput(dir, target, small, '', runSeedOf(file));
      index.push(`${path.basename(kept)}: reaches ${fresh.join(', ')}`);
    }
    slow.sort((a, b) => b.ms - a.ms);
    for (const [i, x] of slow.entries()) {
      if (i < keepSlow) index.push(`${path.basename(x.file)}: slow (${Math.round(x.ms)} ms when kept)`);
      else fs.rmSync(x.file);
    }
    for (const n of fs.readdirSync(dir).filter((n) => n.startsWith('crash-'))) index.push(`${n}: regression input of a fixed crash`);
    fs.writeFileSync(path.join(dir, 'index.txt'), index.sort().join('\n') + '\n');
    console.log(`${target.name.padEnd(17)} ${entries.length} -> ${index.length} entries, ${covered.size} codes covered`);
  }
  process.exit(0);
}

const seed = arg('seed') !== undefined ? Number(arg('seed')) : Math.floor(Math.random() * 2 ** 31);
const seconds = Number(arg('seconds') ?? 600);
const workers = Number(arg('workers') ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
const targets = arg('target')?.split(',').filter(Boolean);
console.log(`fuzz: seed ${seed}, ${seconds} s, ${workers} workers, targets: ${targets?.join(',') ?? 'all'}`);
const r = await runFuzz({
  targets,
  seconds,
  workers,
  seed,
  timeoutMs: Number(arg('timeout') ?? 3000),
  slowMs: Number(arg('slow') ?? 500),
  minimizeMs: Number(arg('minimize') ?? 10_000),
  save: !has('no-save'),
  maxIterations: arg('iterations') !== undefined ? Number(arg('iterations')) : undefined,
  log: (l) => console.log(l),
});
const runs = r.stats.reduce((n, s) => n + s.iterations, 0);
console.log(`fuzz: ${runs} runs in ${(r.wallMs / 1000).toFixed(1)} s; ${r.failures.length} failures; ${r.slow.length} slow; ${r.saved.length} inputs saved to corpus/`);
for (const n of r.notes) console.log(`note: ${n.split('\n')[0]}`);
for (const f of r.failures) console.log(`FAIL ${f.kind} ${f.target}: ${f.signature}\n  ${f.files.join('\n  ')}`);
process.exit(r.failures.length ? 1 : 0);
