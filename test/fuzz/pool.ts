/**
 * Parent side of a fuzz run: a pool of child processes, one target at a time each, a watchdog
 * that kills a child whose current input has run past the time bound or notices one that died
 * (V8 abort, out of memory) and saves the input it was running from the shared file, and the bookkeeping of what was found: crashes (minimised),
 * hangs, slow inputs, inputs that reached new finding codes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import { REPO } from '../helpers/fixtures.js';
import { CORPUS, CRASHES, inputFiles, saveInput } from './corpus.js';
import { REPLAY_BASE, Shared, shortHash, sizeOf, type EngineMessage, type TargetStats } from './engine.js';
import { TARGETS, targetByName, type Input } from './targets.js';
import type { ChildJob } from './child.js';

export interface RunOptions {
  /** Targets to fuzz (default: all). */
  targets?: string[];
  /** Wall-clock budget of the whole run; split evenly over the targets. */
  seconds: number;
  workers: number;
  seed: number;
  /** One input running longer than this is a hang. */
  timeoutMs: number;
  /** Inputs slower than this are reported (and saved with `save`). */
  slowMs: number;
  minimizeMs: number;
  /** Save interesting and slow inputs into corpus/. */
  save: boolean;
  /** Where crash and hang reproductions go (default test/fuzz/crashes). */
  crashDir?: string;
  maxIterations?: number;
  /** V8 heap bound of a fuzzing process. */
  heapMb?: number;
  /** Resident-memory bound of a fuzzing process (Linux); past it the input counts as a failure. */
  rssMb?: number;
  log?: (line: string) => void;
}

export interface Failure {
  kind: 'crash' | 'hang' | 'died' | 'memory';
  target: string;
  signature: string;
  detail: string;
  /** Files written for it. */
  files: string[];
  phase?: string;
  replayOf?: string;
}

export interface RunResult {
  stats: TargetStats[];
  failures: Failure[];
  slow: { target: string; ms: number; file?: string }[];
  saved: string[];
  notes: string[];
  wallMs: number;
}

const rel = (p: string) => path.relative(REPO, p);

export async function runFuzz(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => {});
  const names = o.targets?.length ? o.targets : TARGETS.map((t) => t.name);
  for (const n of names) targetByName(n);
  const perTarget = Math.max(0.5, (o.seconds * o.workers) / names.length);
  const crashDir = o.crashDir ?? CRASHES;
  const result: RunResult = { stats: [], failures: [], slow: [], saved: [], notes: [], wallMs: 0 };
  const seenSignatures = new Set<string>();
  const t0 = Date.now();

  const recordFailure = async (f: Omit<Failure, 'files'>, input: Input | undefined, minimized: Input | undefined, runSeed: number, extra: string): Promise<void> => {
    const key = `${f.target}\0${f.signature}`;
    if (seenSignatures.has(key)) return;
    seenSignatures.add(key);
    const target = targetByName(f.target);
    const tag = `${f.target}-${f.kind === 'crash' ? '' : f.kind + '-'}${shortHash(f.signature)}`;
    const files: string[] = [];
    const note = `${f.kind} in ${f.target}: ${f.signature}\n\n${f.detail}\n\n${extra}\n`;
    if (input !== undefined) files.push(await saveInput(crashDir, target, input, `${tag}.raw.`, runSeed, note));
    if (minimized !== undefined) files.push(await saveInput(crashDir, target, minimized, `${tag}.min.`, runSeed));
    if (input === undefined) {
      fs.mkdirSync(crashDir, { recursive: true });
      const p = path.join(crashDir, `${tag}.txt`);
      fs.writeFileSync(p, note);
      files.push(p);
    }
    result.failures.push({ ...f, files: files.map(rel) });
    log(`!! ${f.kind} in ${f.target}: ${f.signature}\n   ${files.map(rel).join('\n   ')}`);
  };

  const queue = [...names];
  const child = new URL('./child.js', import.meta.url).pathname;
  const runOne = (name: string, seconds: number, startIteration: number, skip: string[]): Promise<void> =>
    new Promise((resolve) => {
      const shared = Shared.create();
      const job: ChildJob = { target: name, seed: o.seed, seconds, maxIterations: o.maxIterations, startIteration, slowMs: o.slowMs, minimizeMs: o.minimizeMs, shared: shared.file, skip };
      const started = Date.now();
      // A process, not a worker thread: a V8 abort or an out-of-memory kill must not take the run down.
      const proc = fork(child, [], {
        serialization: 'advanced',
        execArgv: [`--max-old-space-size=${o.heapMb ?? 2048}`],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      let stderr = '';
      proc.stderr!.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString('utf8')).slice(-4000);
      });
      proc.send(job);
      let finished = false;
      const writes: Promise<unknown>[] = [];
      const replayFiles = () => inputFiles(targetByName(name)).map(rel).filter((f) => !skip.includes(f));
      const stop = () => {
        finished = true;
        clearInterval(watch);
        proc.kill('SIGKILL');
      };

      const restart = async (why: Failure['kind'], cur: ReturnType<Shared['current']>, detail: string) => {
        stop();
        await Promise.all(writes);
        const it = cur?.iteration ?? -3;
        const replayOf = it <= REPLAY_BASE ? replayFiles()[REPLAY_BASE - it] : undefined;
        const first = detail.split('\n').find((l) => /Fatal|Error|error|signal|code/.test(l)) ?? detail.split('\n')[0]!;
        const signature = why === 'memory' ? `memory${cur?.mutating ? ' (mutator)' : ''}` : why === 'hang' ? `${cur?.mutating ? 'mutator ' : ''}hang${replayOf ? ` replaying ${replayOf}` : ''}` : `${why}: ${first.trim().slice(0, 160)}`;
        await recordFailure(
          { kind: why, target: name, signature, detail: `${detail}\niteration ${it}${replayOf ? ` (replay of ${replayOf})` : ''}, seed ${o.seed}`, replayOf },
          cur?.input,
          undefined,
          cur?.runSeed ?? 0,
          reproduce(name, o.seed, it),
        );
        shared.close(true);
        const left = seconds - (Date.now() - started) / 1000;
        if (left > 0.5) await runOne(name, left, it >= 0 ? it + 1 : startIteration, replayOf ? [...skip, replayOf] : skip);
        resolve();
      };

      const watch = setInterval(() => {
        if (finished) return;
        // Buffers live outside the V8 heap: --max-old-space-size does not bound them, this does.
        const rss = rssMb(proc.pid);
        if (rss !== undefined && rss > (o.rssMb ?? 3072)) {
          void restart('memory', shared.current(), `the fuzzing process grew to ${rss} MiB resident`);
          return;
        }
        // A hang is judged on the child's CPU time, so a loaded machine (tests run side by side)
        // does not pass for one; an input that waits forever without computing (a promise that
        // never settles) is caught by wall time, ten times the bound.
        const cur = shared.current(false);
        const bound = cur?.mutating ? 10 * o.timeoutMs : o.timeoutMs;
        if (cur) {
          const cpu = cpuMs(proc.pid);
          const what = hangOf(cpu === undefined ? undefined : cpu - cur.cpuStartMs, cur.ms, bound);
          if (what) void restart('hang', shared.current(), cur.mutating ? `the harness's mutator ran for ${what} on this parent input (a harness bug)` : `one input ran for ${what} (bound ${bound} ms CPU)`);
        }
      }, 50);

      proc.on('message', (m: EngineMessage) => {
        writes.push(handle(m));
      });
      proc.on('exit', (code, signal) => {
        if (finished) return;
        // what the child said last is still useful: V8 prints its fatal error to stderr
        setTimeout(() => {
          if (finished) return;
          void restart('died', shared.current(), `child exited with ${signal ? `signal ${signal}` : `code ${code}`}\n${stderr}`);
        }, 100);
      });

      async function handle(m: EngineMessage): Promise<void> {
        const target = targetByName(m.target);
        switch (m.type) {
          case 'crash': {
            const input = reviveInput(m.input);
            const min = m.minimized === undefined ? undefined : reviveInput(m.minimized);
            await recordFailure(
              { kind: 'crash', target: m.target, signature: m.signature, detail: m.error.stack || `${m.error.name}: ${m.error.message}`, phase: m.phase, replayOf: m.file },
              input,
              min,
              m.runSeed,
              m.file ? `found replaying ${m.file}` : reproduce(m.target, m.seed, m.iteration),
            );
            return;
          }
          case 'interesting':
            if (o.save) {
              const input = reviveInput(m.input);
              if (sizeOf(input) > 128 << 10) {
                result.notes.push(`${m.target}: not saved, ${sizeOf(input)} bytes: input reaching ${m.newFeatures.join(', ')}`);
                return;
              }
              const dir = path.join(CORPUS, m.target);
              const p = await saveInput(dir, target, input, '', m.runSeed);
              fs.appendFileSync(path.join(dir, 'index.txt'), `${path.basename(p)}: first to reach ${m.newFeatures.join(', ')} (seed ${o.seed}, iteration ${m.iteration})\n`);
              result.saved.push(rel(p));
            }
            return;
          case 'slow': {
            let file: string | undefined;
            if (o.save && m.iteration >= 0) file = rel(await saveInput(path.join(CORPUS, m.target), target, reviveInput(m.input), 'slow-', m.runSeed));
            result.slow.push({ target: m.target, ms: m.ms, file: file ?? m.file });
            log(`   slow input in ${m.target}: ${m.ms} ms${file ? ` (${file})` : m.file ? ` (${m.file})` : ''}`);
            return;
          }
          case 'note':
            result.notes.push(`${m.target}: ${m.message}`);
            log(`   note: ${m.target}: ${m.message.split('\n')[0]}`);
            return;
          case 'done':
            // the child may still hold handles (a stream a parser left open): end it here
            stop();
            result.stats.push(m.stats);
            log(
              `   ${m.target.padEnd(17)} ${String(m.stats.iterations).padStart(7)} runs ${String(Math.round((m.stats.iterations * 1000) / Math.max(1, m.stats.ms))).padStart(6)}/s  ` +
                `replayed ${String(m.stats.replayed).padStart(3)}  features ${String(m.stats.features).padStart(3)}  pool ${String(m.stats.poolSize).padStart(3)}  slowest ${m.stats.slowest} ms  heap ${m.stats.peakHeapMb} MiB`,
            );
            await Promise.all(writes);
            shared.close(true);
            resolve();
            return;
        }
      }
    });

  const slots = Array.from({ length: Math.max(1, o.workers) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) await runOne(name, perTarget, 0, []);
  });
  await Promise.all(slots);
  result.wallMs = Date.now() - t0;
  return result;
}

/**
 * Whether one input has hung, and how, given the CPU it has used (undefined where /proc is not
 * readable: wall time stands in) and its wall time, against a bound in CPU ms.
 */
export function hangOf(cpuSpentMs: number | undefined, wallMs: number, boundMs: number): string | undefined {
  const spent = cpuSpentMs ?? wallMs;
  if (spent > boundMs) return `${Math.round(spent)} ms of CPU`;
  if (wallMs > 10 * boundMs) return `${Math.round(wallMs)} ms without finishing`;
  return undefined;
}

/** User + system CPU time of a process so far (all its threads), from /proc. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return cpuMsOfStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** utime + stime of a /proc/<pid>/stat line, in ms. */
export function cpuMsOfStat(stat: string): number | undefined {
  // the command name may hold spaces and parentheses: fields count from after the last ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ms = ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  return Number.isFinite(ms) ? ms : undefined;
}
/** USER_HZ: 100 on every Linux that Node supports. */
const CLOCK_TICKS = 100;

function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** IPC turns Buffers into Uint8Arrays; trees keep their Map shape. */
function reviveInput(x: Input | Uint8Array): Input {
  if (x instanceof Map) {
    for (const n of x.values()) if (n.body && !Buffer.isBuffer(n.body)) n.body = Buffer.from(n.body as Uint8Array);
    return x;
  }
  return Buffer.isBuffer(x) ? x : Buffer.from(x);
}

function reproduce(target: string, seed: number, iteration: number): string {
  if (iteration < 0) return 'reproduce: replay the saved file with `node dist/test/fuzz/run.js --replay <file>`';
  return `reproduce: node dist/test/fuzz/run.js --target ${target} --seed ${seed} --iterations ${iteration + 1}   (or --replay <file>)`;
}
