/**
 * Child-process entry: fuzzes one target and reports to the parent (see pool.ts) over IPC. The
 * job comes in the first message. An error thrown outside the awaited chain (a stream's 'error'
 * with no listener, a rejected promise nobody awaits) is reported as a crash of the input that
 * was running, and the loop carries on.
 */
import { REPO } from '../helpers/fixtures.js';
import { loadInitial } from './corpus.js';
import { Shared, fuzzTarget, signatureOf, type EngineMessage } from './engine.js';
import { targetByName, type Input } from './targets.js';

export interface ChildJob {
  target: string;
  seed: number;
  seconds: number;
  maxIterations?: number;
  startIteration?: number;
  slowMs: number;
  minimizeMs: number;
  /** The shared "what is running" file. */
  shared: string;
  /** Seed/corpus files not to replay (they hung or killed a previous child). */
  skip: string[];
}

const post = (m: EngineMessage) => new Promise<void>((resolve) => process.send!(m, undefined, {}, () => resolve()));

const job = await new Promise<ChildJob>((resolve) => process.once('message', (m) => resolve(m as ChildJob)));
const shared = new Shared(job.shared);

function stray(kind: string, e: unknown): void {
  const cur = shared.current();
  const error = e instanceof Error ? { name: e.name, message: e.message, stack: e.stack ?? '' } : { name: kind, message: String(e), stack: '' };
  const input: Input = cur?.input ?? Buffer.alloc(0);
  void post({ type: 'crash', target: job.target, phase: 'fuzz', signature: `${kind} ${signatureOf(error)}`, error, input, iteration: cur?.iteration ?? -3, runSeed: cur?.runSeed ?? 0, seed: job.seed });
}
process.on('uncaughtException', (e) => stray('uncaughtException', e));
// A promise that never settles would otherwise let the event loop run dry and the process exit
// (code 13) mid-input; kept alive, it is a hang the watchdog sees, with its input.
setInterval(() => {}, 1 << 30);
process.on('unhandledRejection', (e) => stray('unhandledRejection', e));

const target = targetByName(job.target);
const initial = (await loadInitial(target)).filter((x) => !job.skip.includes(x.file));
const stats = await fuzzTarget({
  target: job.target,
  seed: job.seed,
  seconds: job.seconds,
  maxIterations: job.maxIterations,
  startIteration: job.startIteration,
  initial,
  slowMs: job.slowMs,
  minimizeMs: job.minimizeMs,
  shared,
  post: (m) => void post(m),
  root: REPO,
});
await post({ type: 'done', target: job.target, stats });
// The parent ends this process once 'done' arrives (a parser may have left a handle open).
