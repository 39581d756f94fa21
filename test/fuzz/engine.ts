/**
 * The fuzz loop for one target, as it runs inside a child process: replay the seeds and corpus,
 * then mutate, run, classify, until the time or iteration budget is spent. Before each input it
 * writes the input to a small shared file, so the parent's watchdog can save it if this process
 * hangs (a synchronous infinite loop never returns to the event loop; only a kill stops it), runs
 * out of memory or aborts.
 *
 * Determinism: iteration i of (target, seed) derives all its choices from Rng(`seed:target:i`);
 * the pool it picks parents from grows only from earlier iterations' results (never from timing),
 * so `--target T --seed S --iterations N` replays a run exactly.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { TarSource } from '../../src/source/tar.js';
import type { Source } from '../../src/source/types.js';
import type { Finding } from '../../src/store/findings.js';
import { reduceJson } from './mutate.js';
import { Rng } from './prng.js';
import { InvariantError, targetByName, type Input, type Outcome, type Target } from './targets.js';
import { MemSource, isTree, treeBytes, type Tree } from './tree.js';

// ---------------------------------------------------------------------------------------------
// What is running now, in a small file shared with the watchdog

const HEADER = 32;
/** Mutated inputs every target runs, whatever its time share. */
const MIN_MUTATIONS = 5;

/**
 * The input about to run is written to a file (on tmpfs where there is one) before it runs: when
 * the fuzzing process hangs, is killed for memory, or aborts inside V8 itself (it happened: see
 * locallog.ts), the parent still knows which input did it. Header: state, iteration, length,
 * run seed (int32 each), start time (float64).
 */
export class Shared {
  private readonly fd: number;
  private readonly head = Buffer.alloc(HEADER);
  constructor(readonly file: string) {
    this.fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
  }
  static create(): Shared {
    const dir = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const s = new Shared(path.join(dir, `dockscope-fuzz-${process.pid}-${Math.random().toString(36).slice(2)}`));
    return s;
  }
  /** Fuzzing process: an input is about to run (state 1), or to be mutated (state 2). */
  begin(iteration: number, runSeed: number, input: Input, state: 1 | 2 = 1): void {
    const bytes = v8.serialize(input);
    fs.writeSync(this.fd, bytes, 0, bytes.length, HEADER);
    this.head.writeInt32LE(state, 0);
    this.head.writeInt32LE(iteration, 4);
    this.head.writeInt32LE(bytes.length, 8);
    this.head.writeUInt32LE(runSeed >>> 0, 12);
    this.head.writeDoubleLE(Date.now(), 16);
    const cpu = process.cpuUsage();
    this.head.writeDoubleLE((cpu.user + cpu.system) / 1000, 24);
    fs.writeSync(this.fd, this.head, 0, HEADER, 0);
  }
  end(): void {
    this.head.writeInt32LE(0, 0);
    fs.writeSync(this.fd, this.head, 0, 4, 0);
  }
  /** Watchdog: what is running, if anything, and for how long. */
  current(withInput = true): { iteration: number; runSeed: number; ms: number; cpuStartMs: number; input?: Input; mutating: boolean } | undefined {
    const h = Buffer.alloc(HEADER);
    if (fs.readSync(this.fd, h, 0, HEADER, 0) < HEADER) return undefined;
    const state = h.readInt32LE(0);
    if (state !== 1 && state !== 2) return undefined;
    const len = h.readInt32LE(8);
    let input: Input | undefined;
    if (withInput && len > 0) {
      try {
        const data = Buffer.alloc(len);
        fs.readSync(this.fd, data, 0, len, HEADER);
        input = v8.deserialize(data) as Input;
        if (!Buffer.isBuffer(input) && !(input instanceof Map)) input = Buffer.from(input as Uint8Array);
      } catch {
        input = undefined;
      }
    }
    return { iteration: h.readInt32LE(4), runSeed: h.readUInt32LE(12), ms: Date.now() - h.readDoubleLE(16), cpuStartMs: h.readDoubleLE(24), input, mutating: state === 2 };
  }
  close(remove = false): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    if (remove) fs.rmSync(this.file, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Messages to the main thread

export interface ErrorInfo {
  name: string;
  message: string;
  stack: string;
}

export type EngineMessage =
  | { type: 'crash'; target: string; phase: 'replay' | 'fuzz' | 'minimize'; signature: string; error: ErrorInfo; input: Input; minimized?: Input; iteration: number; runSeed: number; file?: string; seed: number }
  | { type: 'interesting'; target: string; input: Input; features: string[]; newFeatures: string[]; iteration: number; runSeed: number }
  | { type: 'slow'; target: string; input: Input; ms: number; iteration: number; runSeed: number; file?: string }
  | { type: 'note'; target: string; message: string }
  | { type: 'done'; target: string; stats: TargetStats };

export interface TargetStats {
  target: string;
  iterations: number;
  replayed: number;
  ms: number;
  features: number;
  poolSize: number;
  crashes: number;
  slowest: number;
  peakHeapMb: number;
}

export interface EngineOptions {
  target: string;
  seed: number;
  /** Wall-clock budget for the mutation phase. */
  seconds: number;
  maxIterations?: number;
  /** First iteration number (after a worker was restarted past a hang). */
  startIteration?: number;
  /** Inputs to replay first and start the pool from: seeds and corpus, with their file names. */
  initial: { file: string; input: Input }[];
  /** Inputs slower than this are reported (and saved by the long run). */
  slowMs: number;
  /** Budget for minimising one crash. */
  minimizeMs: number;
  shared?: Shared;
  post: (m: EngineMessage) => void;
  /** Directory the initial files' names are relative to; trees are then replayed through TarSource too. */
  root?: string;
}

// ---------------------------------------------------------------------------------------------
// Running one input

const SEVERITIES = new Set(['info', 'warn', 'error']);


function checkOutcome(o: Outcome): void {
  if (!o || !Array.isArray(o.findings)) throw new InvariantError('target returned no findings list');
  for (const f of o.findings as Finding[]) {
    if (!f || !SEVERITIES.has(f.severity)) throw new InvariantError(`finding with severity ${JSON.stringify(f?.severity)}`);
    if (typeof f.code !== 'string' || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(f.code)) throw new InvariantError(`finding with code ${JSON.stringify(f.code)}`);
    if (typeof f.message !== 'string') throw new InvariantError(`finding ${f.code} without a message`);
    if (f.path !== undefined && typeof f.path !== 'string') throw new InvariantError(`finding ${f.code} with a non-string path`);
  }
}

export async function runInput(target: Target, input: Input, runSeed: number, source?: () => Promise<Source>): Promise<Outcome> {
  const rng = new Rng(runSeed);
  const arg = target.kind === 'tree' ? (source ? await source() : new MemSource(input as Tree)) : (input as Buffer);
  const o = await target.run(arg, rng);
  checkOutcome(o);
  return o;
}

export function features(o: Outcome): string[] {
  const s = new Set<string>();
  for (const f of o.findings) s.add(f.code);
  for (const x of o.facts ?? []) s.add(`#${x}`);
  return [...s].sort();
}

function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack ?? '' };
  return { name: typeof e, message: String(e), stack: '' };
}

/**
 * What identifies one bug: the error type, its message with numbers and quoted text blurred, and
 * the innermost stack frame in the project's own code.
 */
export function signatureOf(e: ErrorInfo): string {
  const msg = e.message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\d+/g, 'N')
    .slice(0, 120);
  const frame = e.stack
    .split('\n')
    .map((l) => /\((?:file:\/\/)?[^)]*?\/((?:src|test)\/[^):]+):(\d+):\d+\)/.exec(l) ?? /at (?:file:\/\/)?[^ ]*?\/((?:src|test)\/[^):]+):(\d+):\d+/.exec(l))
    .find((m) => m !== null);
  return `${e.name}: ${msg}${frame ? ` @ ${frame[1]}:${frame[2]}` : ''}`;
}

export function shortHash(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

async function reproduces(target: Target, input: Input, runSeed: number, signature: string, shared?: Shared): Promise<boolean> {
  // each attempt is watched on its own: a minimisation is many short runs, not one long one
  shared?.begin(-2, runSeed, input);
  try {
    await runInput(target, input, runSeed);
    return false;
  } catch (e) {
    return signatureOf(errorInfo(e)) === signature;
  } finally {
    shared?.end();
  }
}

/** Smallest input found (within the budget) that still fails with the same signature. */
export async function minimize(target: Target, input: Input, runSeed: number, signature: string, budgetMs: number, shared?: Shared): Promise<Input> {
  return reduce(input, (x) => reproduces(target, x, runSeed, signature, shared), budgetMs);
}

/** Smallest input found (within the budget) that still reaches every finding code in `codes`. */
export async function minimizeFor(target: Target, input: Input, runSeed: number, codes: string[], budgetMs: number): Promise<Input> {
  return reduce(
    input,
    async (x) => {
      try {
        const got = new Set(features(await runInput(target, x, runSeed)));
        return codes.every((c) => got.has(c));
      } catch {
        return false;
      }
    },
    budgetMs,
  );
}

/**
 * Shrinks an input while `keeps` holds: JSON structurally first, trees entry by entry, then bytes
 * by halving chunks (a simple ddmin).
 */
export async function reduce(input: Input, keeps: (x: Input) => Promise<boolean>, budgetMs: number): Promise<Input> {
  const deadline = Date.now() + budgetMs;
  const still = async (x: Input) => Date.now() < deadline && (await keeps(x));
  const shrinkBytes = async (b: Buffer, test: (c: Buffer) => Promise<boolean>): Promise<Buffer> => {
    let cur = b;
    let chunk = Math.max(1, Math.floor(cur.length / 2));
    while (chunk >= 1 && Date.now() < deadline) {
      let progressed = false;
      for (let off = 0; off < cur.length && Date.now() < deadline; ) {
        const cand = Buffer.concat([cur.subarray(0, off), cur.subarray(off + chunk)]);
        if (await test(cand)) {
          cur = cand;
          progressed = true;
        } else off += chunk;
      }
      if (!progressed) chunk = chunk === 1 ? 0 : Math.floor(chunk / 2);
    }
    return cur;
  };
  if (!isTree(input)) {
    // JSON first: structural cuts keep it parseable, where cutting bytes would only break it
    let cur = input;
    for (let progressed = true; progressed && Date.now() < deadline; ) {
      progressed = false;
      for (const cand of reduceJson(cur.toString('utf8'))) {
        if (Date.now() >= deadline) break;
        const b = Buffer.from(cand, 'utf8');
        if (b.length < cur.length && (await still(b))) {
          cur = b;
          progressed = true;
          break;
        }
      }
    }
    return shrinkBytes(cur, (c) => still(c));
  }
  let t: Tree = new Map(input);
  // drop entries (whole subtrees), deepest paths first
  for (const p of [...t.keys()].sort((a, b) => b.length - a.length)) {
    if (!t.has(p) || Date.now() >= deadline) continue;
    const cand: Tree = new Map([...t].filter(([k]) => k !== p && !k.startsWith(p + '/')));
    if (await still(cand)) t = cand;
  }
  // then shrink each remaining file
  for (const [p, n] of [...t]) {
    if (n.type !== 'file' || !n.body?.length || Date.now() >= deadline) continue;
    const body = await shrinkBytes(n.body, (c) => still(new Map(t).set(p, { ...n, body: c })));
    t = new Map(t).set(p, { ...n, body });
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// The loop

const MAX_POOL = 400;
/** Iteration numbers at or below this mean "replaying initial input REPLAY_BASE - n". */
export const REPLAY_BASE = -1000;

export async function fuzzTarget(o: EngineOptions): Promise<TargetStats> {
  const target = targetByName(o.target);
  const t0 = Date.now();
  const stats: TargetStats = { target: target.name, iterations: 0, replayed: 0, ms: 0, features: 0, poolSize: 0, crashes: 0, slowest: 0, peakHeapMb: 0 };
  const pool: { input: Input; key: string }[] = [];
  const seenSets = new Set<string>();
  const seenFeatures = new Set<string>();
  const crashed = new Set<string>();
  const heap = () => {
    const mb = process.memoryUsage().heapUsed / 2 ** 20;
    if (mb > stats.peakHeapMb) stats.peakHeapMb = Math.round(mb);
    return mb;
  };

  const onCrash = async (phase: 'replay' | 'fuzz', e: unknown, input: Input, iteration: number, runSeed: number, file?: string) => {
    const error = errorInfo(e);
    const signature = signatureOf(error);
    stats.crashes++;
    if (crashed.has(signature)) return;
    crashed.add(signature);
    let minimized: Input | undefined;
    if (o.minimizeMs > 0) {
      try {
        minimized = await minimize(target, input, runSeed, signature, o.minimizeMs, o.shared);
      } catch {
        minimized = undefined;
      }
    }
    o.post({ type: 'crash', target: target.name, phase, signature, error, input, minimized, iteration, runSeed, file, seed: o.seed });
  };

  const consider = (input: Input, out: Outcome, iteration: number, fromDisk: boolean, runSeed = 0) => {
    const fs = features(out);
    const key = fs.join('\n');
    const fresh = fs.filter((x) => !seenFeatures.has(x));
    for (const x of fresh) seenFeatures.add(x);
    if (seenSets.has(key) && !fromDisk) return;
    seenSets.add(key);
    if (pool.length < MAX_POOL) pool.push({ input, key });
    else pool[1 + new Rng(`${o.seed}:evict:${iteration}`).int(pool.length - 1)] = { input, key };
    // worth keeping on disk: a finding code no earlier input reached (facts only steer the pool)
    const freshCodes = fresh.filter((x) => !x.startsWith('#'));
    if (!fromDisk && freshCodes.length > 0) o.post({ type: 'interesting', target: target.name, input, features: fs, newFeatures: freshCodes, iteration, runSeed });
  };

  const timed = async (input: Input, iteration: number, runSeed: number, source?: () => Promise<Source>): Promise<{ out?: Outcome; err?: unknown; ms: number }> => {
    o.shared?.begin(iteration, runSeed, input);
    const start = performance.now();
    try {
      const out = await runInput(target, input, runSeed, source);
      return { out, ms: performance.now() - start };
    } catch (err) {
      return { err, ms: performance.now() - start };
    } finally {
      o.shared?.end();
    }
  };

  // 1. replay every seed and corpus entry
  for (const [index, { file, input }] of o.initial.entries()) {
    const runSeed = runSeedOf(file);
    const r = await timed(input, REPLAY_BASE - index, runSeed);
    stats.replayed++;
    if (r.err !== undefined) await onCrash('replay', r.err, input, -1, runSeed, file);
    else consider(input, r.out!, -1, true);
    if (target.kind === 'tree' && o.root) {
      // saved trees are acquisitions: once more through the real archive backend
      const t = await timed(input, REPLAY_BASE - index, runSeed, () => TarSource.open(path.join(o.root!, file)));
      if (t.err !== undefined) await onCrash('replay', t.err, input, -1, runSeed, `${file} (as TarSource)`);
    }
    if (r.ms > o.slowMs) o.post({ type: 'slow', target: target.name, input, ms: Math.round(r.ms), iteration: -1, runSeed, file });
    stats.slowest = Math.max(stats.slowest, Math.round(r.ms));
    heap();
  }
  if (pool.length === 0) {
    const empty: Input = target.kind === 'tree' ? new Map() : Buffer.alloc(0);
    pool.push({ input: empty, key: '' });
  }

  // 2. mutate
  const deadline = t0 + o.seconds * 1000;
  const maxIt = o.maxIterations ?? Infinity;
  // A few mutated inputs run even when replaying the corpus used the whole share (a slow target
  // on a loaded machine): a run that only replays would pass without fuzzing anything.
  const first = o.startIteration ?? 0;
  for (let i = first; i < maxIt && (Date.now() < deadline || i < first + MIN_MUTATIONS); i++) {
    const rng = new Rng(`${o.seed}:${target.name}:${i}`);
    const parent = rng.pick(pool).input;
    const others = [rng.pick(pool).input, rng.pick(pool).input, rng.pick(pool).input].filter((x) => x !== parent);
    let input: Input;
    // the mutators are watched too: a stuck mutator is a harness bug, and must not pass for a quiet run
    o.shared?.begin(i, 0, parent, 2);
    try {
      input = target.mutate(parent, rng.fork('mutate'), others);
      if (rng.chance(0.25)) input = target.mutate(input, rng.fork('again'), others);
      input = clampInput(input, target.maxInput);
    } catch (e) {
      // a mutator bug is the harness's problem, not the parser's: report it loudly once
      o.post({ type: 'note', target: target.name, message: `mutator threw at iteration ${i}: ${(e as Error).stack ?? e}` });
      continue;
    } finally {
      o.shared?.end();
    }
    const runSeed = rng.u32();
    const r = await timed(input, i, runSeed);
    stats.iterations++;
    if (r.err !== undefined) await onCrash('fuzz', r.err, input, i, runSeed);
    else consider(input, r.out!, i, false, runSeed);
    if (r.ms > stats.slowest) stats.slowest = Math.round(r.ms);
    if (r.ms > o.slowMs) o.post({ type: 'slow', target: target.name, input, ms: Math.round(r.ms), iteration: i, runSeed });
    if ((i & 63) === 0 && heap() > 1024) o.post({ type: 'note', target: target.name, message: `heap at ${Math.round(heap())} MiB after iteration ${i} (${sizeOf(input)} bytes of input)` });
  }
  stats.ms = Date.now() - t0;
  stats.features = seenFeatures.size;
  stats.poolSize = pool.length;
  return stats;
}

function clampInput(input: Input, max: number | undefined): Input {
  if (max === undefined) return input;
  if (!isTree(input)) return input.length > max ? input.subarray(0, max) : input;
  let over = false;
  for (const n of input.values()) if (n.body && n.body.length > max) over = true;
  if (!over) return input;
  const t: Tree = new Map();
  for (const [p, n] of input) t.set(p, n.body && n.body.length > max ? { ...n, body: n.body.subarray(0, max) } : n);
  return t;
}

/** Saved crash reproductions carry the run seed that made them fail: `name.r<seed>.ext`. */
export function runSeedOf(file: string): number {
  const m = /\.r(\d+)\./.exec(file.slice(file.lastIndexOf('/') + 1));
  return m ? Number(m[1]) >>> 0 : 0;
}

export function sizeOf(input: Input): number {
  return isTree(input) ? treeBytes(input) : input.length;
}
