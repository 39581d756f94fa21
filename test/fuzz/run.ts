/**
 * The fuzzer from the command line (after `tsc -p .`):
 *
 *   node dist/test/fuzz/run.js --seconds 600            long run over every target, saving what it finds
 *   node dist/test/fuzz/run.js --target bbolt,volumes --seconds 120 --seed 42
 *   node dist/test/fuzz/run.js --target tarsplit --seed 7 --iterations 5000   replay a run exactly
 *   node dist/test/fuzz/run.js --replay test/fuzz/crashes/tarsplit-….min.json.gz   run saved inputs once
 *   node dist/test/fuzz/run.js --list
 *
 * Options: --seconds N (whole run, split over targets; default 600), --workers N (default: CPUs),
 * --seed N (default: random, printed), --timeout MS (one input; default 2000), --slow MS (default
 * 500), --minimize MS (default 10000), --no-save (do not write to corpus/), --iterations N.
 * Exit status 1 when anything crashed or hung.
 */
import os from 'node:os';
import path from 'node:path';
import { readInput } from './corpus.js';
import { features, runInput, runSeedOf, signatureOf } from './engine.js';
import { runFuzz } from './pool.js';
import { TARGETS, targetByName } from './targets.js';
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
  const files = process.argv.slice(process.argv.indexOf('--replay') + 1).filter((a) => !a.startsWith('--'));
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
    try {
      const out = await runInput(target, input, runSeedOf(file), target.kind === 'tree' && has('tar') ? () => TarSource.open(path.resolve(file)) : undefined);
      console.log(`ok    ${file} (${name}, ${Math.round(performance.now() - t0)} ms): ${features(out).join(' ')}`);
    } catch (e) {
      bad++;
      const err = e as Error;
      console.log(`FAIL  ${file} (${name}): ${signatureOf({ name: err.name, message: err.message, stack: err.stack ?? '' })}\n${err.stack}`);
    }
  }
  process.exit(bad ? 1 : 0);
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
  timeoutMs: Number(arg('timeout') ?? 2000),
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
