/**
 * `npm run bench`: dockscope's commands on synthetic overlay2 stores of growing size, timed as
 * child processes (`node bin/dockscope.js …`) after a warm-up, side by side with baselines run in
 * the same session on the same files — so every figure is a ratio, which survives a noisy machine:
 *
 *  - metadata I/O floor: reading the very metadata files dockscope reads (`tar -cf - | cat`,
 *    `tar -cf /dev/null`, `cat`), and for an archive, decompressing and listing it (`tar -tzf`);
 *  - start-up: `node -e 0` against `dockscope --version`;
 *  - verify / export on the content store (`content`, in the default sizes): `verify <image>`
 *    against `tar-split asm | sha256sum` and `sha256sum`, `export <image> --image -o -` against GNU
 *    tar over the same layers (a read-only kernel overlay mount of them when root); a row stays
 *    TODO when the build measured lacks the command.
 *
 *   node dist/bench/run.js [--sizes small,medium,large,huge,content] [--forms dir,tgz[,tar]]
 *                          [--runs 5] [--out /tmp/dockscope-bench] [--results bench/RESULTS.md]
 *                          [--no-write] [--no-profile]
 *
 * Medians of `--runs` timed runs after one warm-up run; peak RSS is the largest of the runs, from
 * `/usr/bin/time -f %M` (or, without it, `process.resourceUsage()` of a node child via a preload).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OUT, generateStore, SPECS, type StoreManifest } from './generate.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(REPO, 'bin/dockscope.js');
const NODE = process.execPath;

type Form = 'dir' | 'tar' | 'tgz';

interface Options {
  sizes: string[];
  forms: Form[];
  runs: number;
  out: string;
  results: string;
  write: boolean;
  profile: boolean;
}

const DEFAULT_SIZES = ['small', 'medium', 'large', 'huge', 'content'];

/** Targets from the benchmark issue. */
const TARGET = { listRatio: 2, startupRatio: 1.5, rssMB: 200 };

// ------------------------------------------------------------------------------------------------
// Measuring

interface Stats {
  /** Median wall-clock ms. */
  median: number;
  min: number;
  max: number;
  /** Median CPU ms (user + system) of the child and its children; undefined when unknown. */
  cpu?: number;
  /** Peak RSS in MB (largest of the timed runs); undefined when it could not be read. */
  rssMB?: number;
  runs: number;
  status: number;
  /** What was wrong with the first run (exit status, output not JSON). */
  error?: string;
}

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-bench-run-'));
/** Overlay mounts made for export's baseline, taken down before SCRATCH is removed. */
const MOUNTS: string[] = [];
process.on('exit', () => {
  for (const m of MOUNTS) spawnSync('umount', [m]);
  fs.rmSync(SCRATCH, { recursive: true, force: true });
});
const RSS_FILE = path.join(SCRATCH, 'rss');
const OUT_FILE = path.join(SCRATCH, 'stdout');
const PRELOAD = path.join(SCRATCH, 'rss-preload.mjs');
fs.writeFileSync(
  PRELOAD,
  "import fs from 'node:fs';\nprocess.on('exit', () => { try { const u = process.resourceUsage(); fs.writeFileSync(process.env.DOCKSCOPE_BENCH_RSS, `${u.maxRSS} ${(u.userCPUTime + u.systemCPUTime) / 1e6}`); } catch {} });\n",
);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface RunResult {
  ms: number;
  rssKB?: number;
  cpuMs?: number;
  status: number;
  stderr: string;
}

/**
 * One run: wall-clock ms measured here around the whole child, peak RSS and CPU time from
 * /usr/bin/time (or from the node child itself). stdout goes to /dev/null, or to a file to check.
 */
function runOnce(argv: string[], keepStdout: boolean): RunResult {
  let cmd: string;
  let args: string[];
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  fs.rmSync(RSS_FILE, { force: true });
  if (TIME) {
    cmd = TIME;
    args = ['-f', '%M %U %S', '-o', RSS_FILE, ...argv];
  } else if (argv[0] === NODE) {
    cmd = NODE;
    args = ['--import', `file://${PRELOAD}`, ...argv.slice(1)];
    env.DOCKSCOPE_BENCH_RSS = RSS_FILE;
  } else {
    cmd = argv[0]!;
    args = argv.slice(1);
  }
  const out = keepStdout ? fs.openSync(OUT_FILE, 'w') : 'ignore';
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', out, 'pipe'], env, maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (typeof out === 'number') fs.closeSync(out);
  let rssKB: number | undefined;
  let cpuMs: number | undefined;
  try {
    const f = fs.readFileSync(RSS_FILE, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    rssKB = Number.isFinite(f[0]) ? f[0] : undefined;
    if (TIME && f.length >= 3) cpuMs = (f[1]! + f[2]!) * 1000;
    else if (!TIME && f.length >= 2) cpuMs = f[1]! * 1000;
  } catch {
    rssKB = undefined;
  }
  return { ms, rssKB, cpuMs, status: r.status ?? -1, stderr: (r.stderr as Buffer | null)?.toString() ?? '' };
}

/** A command to time, with what its runs gave. */
interface Job {
  argv: string[];
  check?: 'json';
  /** Exit statuses that mean success (default: 0). */
  ok: number[];
  times: number[];
  cpu: number[];
  rssKB?: number;
  status?: number;
  error?: string;
}

function job(argv: string[], check?: 'json', ok: number[] = [0]): Job {
  return { argv, check, ok, times: [], cpu: [] };
}

/**
 * Times a set of jobs in interleaved rounds (job 1, job 2, …, then again), so a burst of load
 * on a shared machine falls on all of them alike and the ratios between them stay fair. `warm`
 * jobs run once first, untimed (the page cache holds the files afterwards). The first timed run of
 * each job is checked: exit status 0 and, for `check: 'json'`, output that parses.
 */
function timeJobs(jobs: Job[], rounds: number, warm: Job[] = []): void {
  for (const j of warm) runOnce(j.argv, false);
  for (let r = 0; r < rounds; r++) {
    for (const j of jobs) {
      const first = j.times.length === 0;
      const res = runOnce(j.argv, first && j.check !== undefined);
      if (first) {
        j.status = res.status;
        if (!j.ok.includes(res.status)) j.error = `exit ${res.status}: ${res.stderr.slice(0, 300)}`;
        else if (j.check === 'json') {
          try {
            JSON.parse(fs.readFileSync(OUT_FILE, 'utf8'));
          } catch (e) {
            j.error = `output is not JSON: ${(e as Error).message}`;
          }
        }
      }
      j.times.push(res.ms);
      if (res.cpuMs !== undefined) j.cpu.push(res.cpuMs);
      if (res.rssKB !== undefined) j.rssKB = Math.max(j.rssKB ?? 0, res.rssKB);
    }
  }
}

function stats(j: Job): Stats {
  return {
    median: median(j.times),
    min: Math.min(...j.times),
    max: Math.max(...j.times),
    cpu: j.cpu.length ? median(j.cpu) : undefined,
    rssMB: j.rssKB === undefined ? undefined : j.rssKB / 1024,
    runs: j.times.length,
    status: j.status ?? -1,
    error: j.error,
  };
}

/** Fewer rounds on the big stores, where one run takes seconds: the budget is 10 minutes. */
function roundsFor(m: StoreManifest, runs: number): number {
  return m.counts.layers >= 10_000 ? Math.min(runs, 2) : m.counts.layers >= 3_000 ? Math.min(runs, 3) : runs;
}

/**
 * A read-only kernel overlay mount of `lowers` (top first): what `docker export` reads on a live
 * host, so GNU tar over it is export's fairest baseline. Root only; undefined where it cannot mount.
 */
function overlayMount(lowers: string[]): string | undefined {
  if (process.getuid?.() !== 0 || lowers.length < 2) return undefined;
  const dir = fs.mkdtempSync(path.join(SCRATCH, 'merged-'));
  const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, dir], { stdio: 'ignore' });
  if (r.status !== 0) return undefined;
  MOUNTS.push(dir);
  return dir;
}

function sh(script: string): string[] {
  return ['/bin/sh', '-c', script];
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ------------------------------------------------------------------------------------------------
// What the floor reads

/**
 * The metadata files a listing reads, relative to the data root: all of layerdb except the
 * tar-split files (not read to list), imagedb, distribution, repositories.json, the containers'
 * config.v2.json and hostconfig.json, overlay2 `link` and `lower` files and the `l/` symlinks.
 */
const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p));

/**
 * The files under `root` one run of `argv` opens or reads as a link (not directories), relative to
 * `root`, from strace: that command's own floor. A listing reads less than every metadata file
 * (not distribution/, the driver dirs' link/lower or l/), and a floor over files it never reads
 * would flatter it. Undefined without strace.
 */
function filesRead(argv: string[], root: string): string[] | undefined {
  if (!STRACE) return undefined;
  const out = path.join(SCRATCH, 'strace');
  // --seccomp-bpf: stop only at the traced calls, or a huge store's run takes minutes under strace
  spawnSync(STRACE, ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=openat,open,readlink,readlinkat', '-o', out, ...argv], { stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
  const seen = new Set<string>();
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
    const m = /(?:openat|open|readlinkat|readlink)\((?:AT_FDCWD, )?"([^"]*)"(.*)$/.exec(line);
    if (!m || !m[1]!.startsWith(prefix) || m[2]!.includes('O_DIRECTORY')) continue;
    const rel = m[1]!.slice(prefix.length);
    try {
      if (!fs.lstatSync(m[1]!).isDirectory()) seen.add(rel);
    } catch {
      // absent: looked for, nothing to read
    }
  }
  fs.rmSync(out, { force: true });
  return [...seen].sort();
}

function metadataFiles(root: string): { list: string[]; files: string[]; bytes: number } {
  const list: string[] = [];
  const files: string[] = [];
  let bytes = 0;
  const add = (rel: string) => {
    const st = fs.lstatSync(path.join(root, rel));
    list.push(rel);
    if (st.isFile()) {
      bytes += st.size;
      files.push(rel);
    }
  };
  const walk = (rel: string, skip?: (name: string) => boolean) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${d.name}`;
      if (skip?.(d.name)) continue;
      if (d.isDirectory()) walk(p, skip);
      else add(p);
    }
  };
  const img = 'image/overlay2';
  if (fs.existsSync(path.join(root, img, 'repositories.json'))) add(`${img}/repositories.json`);
  walk(`${img}/imagedb`);
  walk(`${img}/layerdb`, (n) => n === 'tar-split.json.gz');
  if (fs.existsSync(path.join(root, img, 'distribution'))) walk(`${img}/distribution`);
  for (const c of fs.readdirSync(path.join(root, 'containers')))
    for (const f of ['config.v2.json', 'hostconfig.json']) if (fs.existsSync(path.join(root, 'containers', c, f))) add(`containers/${c}/${f}`);
  for (const d of fs.readdirSync(path.join(root, 'overlay2'))) {
    if (d === 'l') continue;
    for (const f of ['link', 'lower']) if (fs.existsSync(path.join(root, 'overlay2', d, f))) add(`overlay2/${d}/${f}`);
  }
  for (const l of fs.readdirSync(path.join(root, 'overlay2/l'))) add(`overlay2/l/${l}`);
  return { list, files, bytes };
}

// ------------------------------------------------------------------------------------------------
// Profiles

interface ProfileRow {
  pct: number;
  ms: number;
  where: string;
}

/**
 * A CPU profile summarised two ways: self time by function (a native call such as `lstat` is
 * charged to "lstat ← the JS function that called it"), and inclusive time of dockscope's own
 * functions (dist/src), which says which part of the code the time is spent under.
 */
function profileSummary(file: string, top = 10): { total: number; self: ProfileRow[]; inclusive: ProfileRow[] } {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (id: number): string => {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const rel = url.startsWith(REPO) ? path.relative(REPO, url) : url.replace(/^.*node_modules\//, '');
    return `${n.callFrame.functionName || '(anonymous)'}${url ? ` ${rel}:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const n = byId.get(id)!;
    let k = label(id);
    if (!n.callFrame.url && !/^\((garbage collector|idle|program|root)\)$/.test(n.callFrame.functionName)) {
      let up = parent.get(id);
      while (up !== undefined && !byId.get(up)!.callFrame.url) up = parent.get(up);
      // Skip node's own fs wrappers to reach the dockscope (or library) caller.
      while (up !== undefined && /^node:/.test(byId.get(up)!.callFrame.url)) up = parent.get(up);
      if (up !== undefined) k = `${n.callFrame.functionName} ← ${label(up)}`;
    }
    self.set(k, (self.get(k) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!;
      if (!c.callFrame.url.includes('/dist/src/')) continue;
      const l = label(cur);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + dt);
    }
  });
  const rowsOf = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, us]) => ({ pct: (100 * us) / total, ms: us / 1000, where }));
  return { total: total / 1000, self: rowsOf(self), inclusive: rowsOf(incl) };
}

// ------------------------------------------------------------------------------------------------
// Running everything

interface Row {
  size: string;
  form: Form | '-';
  what: string;
  kind: 'dockscope' | 'floor' | 'baseline' | 'todo';
  stats?: Stats;
  /** Ratio to the floor of the same size and form. */
  ratio?: number;
  /** Ratio after taking `node -e 0` off dockscope's time. */
  netRatio?: number;
  /** Directory form: ratio to the floor over every metadata file (`ratio` is to the command's own files). */
  allRatio?: number;
  /** A command's own floor: how many files it read. */
  files?: number;
  /** Ratio of CPU time (user + system) to the floor's. */
  cpuRatio?: number;
  /** Content store: bytes of layer tar the row's command goes through. */
  bytes?: number;
  /** Content store: ratio of time to plain `sha256sum` over the same bytes. */
  shaRatio?: number;
  /** Content store: ratio of time to GNU tar over the same layers' files (export's baseline). */
  tarRatio?: number;
  note?: string;
}

/** The measured commands; `listing` ones carry issue 8's "within 2× of the floor" target. */
const COMMANDS: { name: string; args: (m: StoreManifest) => string[]; listing: boolean; needs?: string; ok?: number[] }[] = [
  { name: 'images -a', args: () => ['images', '-a', '--json'], listing: true },
  // The table an analyst reads, once: rendering 20,000 rows once cost more than reading the store.
  { name: 'images -a (table)', args: () => ['images', '-a'], listing: true },
  { name: 'containers -a', args: () => ['containers', '-a', '--json'], listing: true },
  { name: 'image <ref>', args: (m) => ['image', m.refs.image, '--json'], listing: true },
  { name: 'container <ref>', args: (m) => ['container', m.refs.container, '--json'], listing: true },
  { name: 'info', args: () => ['info', '--json'], listing: true },
  // Metadata checks over every image and layer (config digests, chainIDs, sizes, links): the same
  // files as the floor, so the same ratio says how much checking costs. No target in issue 8.
  // Exit 5 is verify's "nothing wrong, but not everything checked": content was skipped on purpose.
  { name: 'verify --no-content', args: () => ['verify', '--no-content', '--json'], listing: false, needs: 'verify', ok: [0, 5] },
  { name: 'verify --no-content (table)', args: () => ['verify', '--no-content'], listing: false, needs: 'verify', ok: [0, 5] },
];

/** Commands this build of dockscope lists in its --help (verify and export landed after the bench). */
function listedCommands(): Set<string> {
  const help = spawnSync(NODE, [BIN, '--help'], { env: { ...process.env, NO_COLOR: '1' } }).stdout?.toString() ?? '';
  return new Set([...help.matchAll(/^\s+dockscope ([a-z][\w-]*)/gm)].map((m) => m[1]!));
}

function evidencePath(storeDir: string, m: StoreManifest, form: Form): string {
  return form === 'dir' ? path.join(storeDir, m.dataRoot) : path.join(storeDir, form === 'tar' ? m.tar : m.tgz);
}

function log(s: string): void {
  process.stdout.write(s + '\n');
}

function fmtMs(x: number | undefined): string {
  return x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function fmtX(x: number | undefined): string {
  return x === undefined ? '–' : `${x.toFixed(2)}×`;
}

function fmtMB(x: number | undefined): string {
  return x === undefined ? '–' : x.toFixed(0);
}

/** Page cache held by the kernel (Cached in /proc/meminfo), GiB; undefined off Linux. */
function pageCacheGiB(): string {
  try {
    const m = /^Cached:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return m ? (Number(m[1]) / 2 ** 20).toFixed(1) : '?';
  } catch {
    return '?';
  }
}

/**
 * Load and page cache when the run began, beside their values at its end: a machine shared with
 * other work, or one whose host takes page cache back, shows it here.
 */
const AT_START = { load: os.loadavg()[0]!.toFixed(1), cache: pageCacheGiB() };

function machine(): Record<string, string> {
  const tarV = spawnSync('tar', ['--version']).stdout?.toString().split('\n')[0] ?? '?';
  const git = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).stdout?.toString().trim() || '?';
  // The results file is this run's output: its own edits are not changes to what was measured.
  const dirty = spawnSync('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md']).stdout?.toString().trim() ? ' (with uncommitted changes)' : '';
  const df = spawnSync('df', ['-T', '/tmp']).stdout?.toString().split('\n')[1]?.split(/\s+/)[1] ?? '?';
  return {
    cpu: `${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism?.() ?? os.cpus().length} (nproc)`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    tar: tarV,
    'store filesystem': df,
    dockscope: `${git}${dirty}`,
    'load average (1 min), start → end': `${AT_START.load} → ${os.loadavg()[0]!.toFixed(1)}`,
    'page cache (GiB), start → end': `${AT_START.cache} → ${pageCacheGiB()}`,
    'peak RSS from': TIME ? '/usr/bin/time -f %M' : 'process.resourceUsage() of the node child (baselines: none)',
  };
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    sizes: DEFAULT_SIZES,
    forms: ['dir', 'tgz'],
    runs: 5,
    out: DEFAULT_OUT,
    results: path.join(REPO, 'bench/RESULTS.md'),
    write: true,
    profile: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a.startsWith('--sizes')) o.sizes = val().split(',').filter(Boolean);
    else if (a.startsWith('--forms')) o.forms = val().split(',').filter(Boolean) as Form[];
    else if (a.startsWith('--runs')) o.runs = Math.max(1, Number(val()));
    else if (a.startsWith('--out')) o.out = val();
    else if (a.startsWith('--results')) o.results = path.resolve(val());
    else if (a === '--no-write') o.write = false;
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--help' || a === '-h') {
      log('usage: node dist/bench/run.js [--sizes small,medium,large,huge,content] [--forms dir,tgz,tar] [--runs N] [--out DIR] [--results FILE] [--no-write] [--no-profile]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const s of o.sizes) if (!SPECS[s]) throw new Error(`unknown size ${s} (known: ${Object.keys(SPECS).join(', ')})`);
  for (const f of o.forms) if (!['dir', 'tar', 'tgz'].includes(f)) throw new Error(`unknown form ${f}`);
  return o;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  if (!fs.existsSync(path.join(REPO, 'dist/src/cli/main.js'))) throw new Error('build first: npx tsc -p .');
  log(`dockscope benchmark — sizes ${o.sizes.join(',')}, forms ${o.forms.join(',')}, ${o.runs} runs after a warm-up`);

  log('\nStores (generated once, cached under ' + o.out + '):');
  const stores = new Map<string, StoreManifest>();
  for (const s of o.sizes) stores.set(s, generateStore(SPECS[s]!, o.out, { log }));
  for (const [s, m] of stores)
    log(`  ${s.padEnd(8)} ${m.counts.images} images, ${m.counts.layers} layers, ${m.counts.containers} containers (${m.counts.running} running), ${(m.counts.contentBytes / 1e6).toFixed(0)} MB of layer files`);

  const rows: Row[] = [];
  const show = (r: Row) => {
    rows.push(r);
    const s = r.stats;
    const bad = s?.error ? `  !! ${s.error}` : '';
    log(
      `  ${r.size.padEnd(7)} ${r.form.padEnd(4)} ${r.what.padEnd(34)} ${(s ? fmtMs(s.median) + ' ms' : r.note ?? '').padStart(11)} ${r.ratio !== undefined ? fmtX(r.ratio).padStart(8) : ''.padStart(8)}  cpu ${(s?.cpu !== undefined ? fmtMs(s.cpu) + ' ms' : '–').padStart(9)} ${r.cpuRatio !== undefined ? fmtX(r.cpuRatio).padStart(8) : ''.padStart(8)} ${s?.rssMB !== undefined ? (fmtMB(s.rssMB) + ' MB').padStart(8) : ''}${bad}`,
    );
  };

  const listed = listedCommands();
  const available = new Set(['verify', 'export'].filter((c) => listed.has(c)));
  log(`\nCommands present besides the listings: ${[...available].join(', ') || 'none'}`);

  log('\nStart-up:');
  const nodeJob = job([NODE, '-e', '0']);
  const versionJob = job([NODE, BIN, '--version']);
  timeJobs([nodeJob, versionJob], Math.max(o.runs, 10), [nodeJob, versionJob]);
  const nodeE0 = stats(nodeJob);
  const version = stats(versionJob);
  show({ size: '-', form: '-', what: 'node -e 0', kind: 'baseline', stats: nodeE0 });
  show({ size: '-', form: '-', what: 'dockscope --version', kind: 'dockscope', stats: version, ratio: version.median / nodeE0.median, cpuRatio: ratioOf(version.cpu, nodeE0.cpu) });

  const listing = o.sizes.filter((s) => !SPECS[s]!.content);
  const profiles: { label: string; summary: ReturnType<typeof profileSummary> }[] = [];
  for (const s of listing) {
    const m = stores.get(s)!;
    const storeDir = path.join(o.out, s);
    const root = path.join(storeDir, m.dataRoot);
    const meta = metadataFiles(root);
    const listFile = path.join(storeDir, 'metadata-files.list');
    fs.writeFileSync(listFile, meta.list.join('\0') + '\0');
    const filesFile = path.join(storeDir, 'metadata-regular-files.list');
    fs.writeFileSync(filesFile, meta.files.join('\0') + '\0');
    const rounds = roundsFor(m, o.runs);
    log(`\n${s}: ${meta.list.length} metadata files, ${(meta.bytes / 1e6).toFixed(1)} MB; ${rounds} timed runs each`);
    for (const form of o.forms) {
      const baselines: { what: string; kind: Row['kind']; job: Job }[] = [];
      if (form === 'dir') {
        baselines.push({ what: 'floor: tar -cf - <metadata> | cat', kind: 'floor', job: job(sh(`tar -C ${q(root)} --null -T ${q(listFile)} -cf - | cat > /dev/null`)) });
        baselines.push({ what: 'tar -cf /dev/null <metadata>', kind: 'baseline', job: job(['tar', '-C', root, '--null', '-T', listFile, '-cf', '/dev/null']) });
        baselines.push({ what: 'cat <metadata> (regular files)', kind: 'baseline', job: job(sh(`cd ${q(root)} && xargs -0 cat < ${q(filesFile)} > /dev/null`)) });
      } else if (form === 'tgz') {
        const tgz = path.join(storeDir, m.tgz);
        baselines.push({ what: 'floor: tar -tzf <acquisition>', kind: 'floor', job: job(sh(`tar -tzf ${q(tgz)} > /dev/null`)) });
        baselines.push({ what: 'gzip -dc <acquisition>', kind: 'baseline', job: job(sh(`gzip -dc ${q(tgz)} > /dev/null`)) });
      } else {
        const tar = path.join(storeDir, m.tar);
        baselines.push({ what: 'floor: tar -tf <acquisition>', kind: 'floor', job: job(sh(`tar -tf ${q(tar)} > /dev/null`)) });
        baselines.push({ what: 'cat <acquisition>', kind: 'baseline', job: job(sh(`cat ${q(tar)} > /dev/null`)) });
      }
      const ev = evidencePath(storeDir, m, form);
      const ds = COMMANDS.filter((c) => !c.needs || available.has(c.needs)).map((c) => {
        const argv = [NODE, BIN, '--root', ev, ...c.args(m)];
        // On a directory each command is held to the files it reads itself (see filesRead).
        const own = form === 'dir' ? filesRead(argv, root) : undefined;
        let floor: Job | undefined;
        if (own) {
          const ownList = path.join(SCRATCH, `files-${s}-${c.name.replace(/\W+/g, '_')}.list`);
          fs.writeFileSync(ownList, own.join('\0') + '\0');
          floor = job(sh(`tar -C ${q(root)} --no-recursion --null -T ${q(ownList)} -cf - | cat > /dev/null`));
        }
        return { what: `dockscope ${c.name}`, job: job(argv, argv.includes('--json') ? 'json' : undefined, c.ok), floor, files: own?.length };
      });
      const ownFloors = ds.flatMap((d) => (d.floor ? [d.floor] : []));
      timeJobs([...baselines.map((b) => b.job), ...ownFloors, ...ds.map((d) => d.job)], rounds, [baselines[0]!.job]);
      const floor = stats(baselines[0]!.job);
      for (const b of baselines) {
        const st = stats(b.job);
        show({ size: s, form, what: b.what, kind: b.kind, stats: st, ratio: st.median / floor.median, cpuRatio: ratioOf(st.cpu, floor.cpu) });
      }
      for (const d of ds) {
        const st = stats(d.job);
        const own = d.floor ? stats(d.floor) : undefined;
        if (own) show({ size: s, form, what: `floor for ${d.what.replace(/^dockscope /, '')}: the files it reads`, kind: 'floor', stats: own, ratio: own.median / floor.median, cpuRatio: ratioOf(own.cpu, floor.cpu), files: d.files });
        const ref = own ?? floor;
        show({
          size: s,
          form,
          what: d.what,
          kind: 'dockscope',
          stats: st,
          ratio: st.median / ref.median,
          netRatio: Math.max(0, st.median - nodeE0.median) / ref.median,
          cpuRatio: ratioOf(st.cpu, ref.cpu),
          allRatio: own ? st.median / floor.median : undefined,
        });
      }
      if (!available.has('verify')) show({ size: s, form, what: 'dockscope verify', kind: 'todo', note: 'not yet implemented' });
      if (!available.has('export')) show({ size: s, form, what: 'dockscope export', kind: 'todo', note: 'not yet implemented' });
    }
  }

  // Where the time goes on the largest store, for every command over its target.
  const largest = listing[listing.length - 1];
  if (o.profile && largest) {
    const m = stores.get(largest)!;
    for (const form of o.forms) {
      // Every command builds the same model; profile a listing and a resolution, not all five.
      for (const c of COMMANDS.filter((x) => x.name === 'images -a' || x.name === 'container <ref>')) {
        const row = rows.find((r) => r.size === largest && r.form === form && r.what === `dockscope ${c.name}`);
        if (!row || (row.ratio ?? 0) <= TARGET.listRatio) continue;
        const dir = fs.mkdtempSync(path.join(SCRATCH, 'prof-'));
        spawnSync(NODE, ['--cpu-prof', '--cpu-prof-dir', dir, BIN, '--root', evidencePath(path.join(o.out, largest), m, form), ...c.args(m)], { stdio: 'ignore' });
        const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (file) profiles.push({ label: `${largest} ${form} dockscope ${c.name}`, summary: profileSummary(path.join(dir, file)) });
      }
    }
  }

  // Content store: verify against `tar-split asm | sha256sum` and `sha256sum` over the same layers
  // (each content image's whole chain, which is what `verify <image>` re-hashes); export's
  // baseline is GNU tar over the layer's files. Targets: verify at least as fast as tar-split asm
  // and at least 70% of sha256sum's speed; export at least 80% of GNU tar's; memory flat.
  const content = o.sizes.filter((s) => SPECS[s]!.content);
  const haveTarSplit = !spawnSync('tar-split', ['--version']).error;
  for (const s of content) {
    const m = stores.get(s)!;
    const storeDir = path.join(o.out, s);
    const root = path.join(storeDir, m.dataRoot);
    const tarsDir = path.join(storeDir, 'layer-tars');
    fs.mkdirSync(tarsDir, { recursive: true });
    const rounds = Math.min(o.runs, 3);
    log(`\n${s}: content images; ${rounds} timed runs each`);
    for (const c of m.contentLayers) {
      const bytes = c.chain.reduce((n, l) => n + l.tarBytes, 0);
      const label = `${c.image} (${(bytes / 2 ** 20).toFixed(0)} MiB, ${c.chain.length} layers)`;
      const ts = (l: { chainID: string }) => path.join(root, 'image/overlay2/layerdb/sha256', l.chainID.slice(7), 'tar-split.json.gz');
      const diff = (l: { cacheID: string }) => path.join(root, 'overlay2', l.cacheID, 'diff');
      const jobs: { what: string; kind: Row['kind']; job?: Job; note?: string }[] = [];
      if (haveTarSplit) {
        const tars = c.chain.map((l) => path.join(tarsDir, `${l.chainID.slice(7)}.tar`));
        c.chain.forEach((l, k) => {
          if (!fs.existsSync(tars[k]!)) spawnSync('sh', ['-c', `tar-split asm --input ${q(ts(l))} --path ${q(diff(l))} > ${q(tars[k]! + '.tmp')} && mv ${q(tars[k]! + '.tmp')} ${q(tars[k]!)}`]);
        });
        jobs.push({ what: 'floor: tar-split asm | sha256sum', kind: 'floor', job: job(sh(c.chain.map((l) => `tar-split asm --input ${q(ts(l))} --path ${q(diff(l))} | sha256sum > /dev/null`).join('; '))) });
        jobs.push({ what: 'sha256sum <layer tars>', kind: 'baseline', job: job(['sha256sum', ...tars]) });
      } else jobs.push({ what: 'tar-split asm | sha256sum', kind: 'todo', note: 'tar-split not installed (apt-get install tar-split)' });
      jobs.push({ what: 'GNU tar -cf - <layer diff/> | cat', kind: 'baseline', job: job(sh(c.chain.map((l) => `tar -C ${q(diff(l))} -cf - . | cat > /dev/null`).join('; '))) });
      const merged = overlayMount(c.chain.map(diff).reverse());
      if (merged) jobs.push({ what: 'GNU tar -cf - <overlay mount> | cat', kind: 'baseline', job: job(sh(`tar -C ${q(merged)} -cf - . | cat > /dev/null`)) });
      if (available.has('verify')) jobs.push({ what: 'dockscope verify <image>', kind: 'dockscope', job: job([NODE, BIN, '--root', root, 'verify', c.image, '--json'], 'json') });
      else jobs.push({ what: 'dockscope verify <image>', kind: 'todo', note: 'not yet implemented' });
      // export merges the image's layers into one tar on stdout; GNU tar above archives each layer's files.
      if (available.has('export'))
        jobs.push({ what: 'dockscope export <image>', kind: 'dockscope', job: job(sh(`${q(NODE)} ${q(BIN)} --root ${q(root)} export ${q(c.image)} --image -o - | cat > /dev/null`)) });
      else jobs.push({ what: 'dockscope export', kind: 'todo', note: 'not yet implemented' });
      const timed = jobs.filter((x) => x.job).map((x) => x.job!);
      timeJobs(timed, rounds, timed.slice(0, 1));
      const ref = jobs.find((x) => x.kind === 'floor')?.job;
      const sha = jobs.find((x) => x.what.startsWith('sha256sum'))?.job;
      // The merged tree over a kernel overlay mount when there is one (what export writes), else each layer's files.
      const gnuTar = (jobs.find((x) => x.what.includes('<overlay mount>')) ?? jobs.find((x) => x.what.startsWith('GNU tar')))?.job;
      for (const x of jobs) {
        const st = x.job ? stats(x.job) : undefined;
        const r: Row = { size: s, form: 'dir', what: `${label}: ${x.what}`, kind: x.kind, stats: st, note: x.note, bytes };
        if (st && ref) r.ratio = st.median / stats(ref).median;
        if (st && sha) r.shaRatio = st.median / stats(sha).median;
        if (st && gnuTar) r.tarRatio = st.median / stats(gnuTar).median;
        show(r);
      }
    }
  }

  const seconds = (Date.now() - started) / 1000;
  log(`\nDone in ${seconds.toFixed(0)} s.`);
  if (o.write) {
    try {
      const prev = fs.readFileSync(o.results, 'utf8');
      const m = /<!-- analysis:begin -->[\s\S]*<!-- analysis:end -->/.exec(prev);
      if (m) previousAnalysis = m[0];
    } catch {
      previousAnalysis = undefined;
    }
    fs.writeFileSync(o.results, renderResults(o, stores, rows, profiles, nodeE0, version, seconds));
    log(`Wrote ${path.relative(process.cwd(), o.results) || o.results}`);
  }
}

// ------------------------------------------------------------------------------------------------
// RESULTS.md

/** The hand-written analysis of the previous RESULTS.md, kept across reruns. */
let previousAnalysis: string | undefined;

function renderResults(
  o: Options,
  stores: Map<string, StoreManifest>,
  rows: Row[],
  profiles: { label: string; summary: ReturnType<typeof profileSummary> }[],
  nodeE0: Stats,
  version: Stats,
  seconds: number,
): string {
  const out: string[] = [];
  const p = (s = '') => out.push(s);
  p('# dockscope benchmark results');
  p();
  p(`Written by \`npm run bench\` (\`${['node dist/bench/run.js', ...process.argv.slice(2)].join(' ')}\`) on ${new Date().toISOString().slice(0, 19)}Z in ${seconds.toFixed(0)} s.`);
  p(`Each figure is the median of ${o.runs} runs after one warm-up run (page cache warm), wall clock around the whole child process.`);
  p('Ratios are to a baseline measured in the same run on the same files, so they hold on a noisy, shared machine where the milliseconds do not.');
  p();
  p('## Machine');
  p();
  p('| | |');
  p('|---|---|');
  for (const [k, v] of Object.entries(machine())) p(`| ${k} | ${v} |`);
  p();
  p('## Stores');
  p();
  p('Synthetic overlay2 data roots from `bench/generate.ts` (deterministic; see `bench/README.md`), read as a directory (`dir`) and as a `.tar.gz` acquisition (`tgz`).');
  p();
  p('| size | images (tagged) | layers | containers (running) | layer files | .tar.gz | metadata files read |');
  p('|---|---|---|---|---|---|---|');
  for (const [s, m] of stores) {
    const tgz = path.join(o.out, s, m.tgz);
    const size = fs.existsSync(tgz) ? `${(fs.statSync(tgz).size / 1e6).toFixed(1)} MB` : '–';
    const listFile = path.join(o.out, s, 'metadata-files.list');
    const nMeta = fs.existsSync(listFile) ? fs.readFileSync(listFile, 'utf8').split('\0').filter(Boolean).length : undefined;
    p(`| ${s} | ${m.counts.images} (${m.counts.taggedImages}) | ${m.counts.layers} | ${m.counts.containers} (${m.counts.running}) | ${m.counts.layerFiles} files, ${(m.counts.contentBytes / 1e6).toFixed(1)} MB | ${size} | ${nMeta ?? '–'} |`);
  }
  p();
  p('## Start-up');
  p();
  p('| command | median ms | ratio to `node -e 0` | CPU ms | CPU ratio | peak RSS MB | target |');
  p('|---|---|---|---|---|---|---|');
  p(`| \`node -e 0\` | ${fmtMs(nodeE0.median)} | 1.00× | ${fmtMs(nodeE0.cpu)} | 1.00× | ${fmtMB(nodeE0.rssMB)} | |`);
  const su = version.median / nodeE0.median;
  p(`| \`dockscope --version\` | ${fmtMs(version.median)} | ${fmtX(su)} | ${fmtMs(version.cpu)} | ${fmtX(ratioOf(version.cpu, nodeE0.cpu))} | ${fmtMB(version.rssMB)} | ≤ ${TARGET.startupRatio}× ${su <= TARGET.startupRatio ? '**met**' : '**not met**'} |`);
  p();
  p('## Listing and resolving');
  p();
  p('Floor for a directory: `tar -cf - <files> | cat > /dev/null` over exactly the files the command itself opens or reads as a');
  p('link, recorded once per command with strace ("floor for …" rows; a listing reads less than every metadata file). The first');
  p('floor row reads every metadata file (layerdb without tar-split, imagedb, distribution, repositories.json,');
  p('containers/*/{config.v2.json,hostconfig.json}, overlay2/*/{link,lower}, overlay2/l/*); "× all" is the ratio to it.');
  p('`tar -cf /dev/null` is shown too but is not the floor: GNU tar notices /dev/null and skips reading file contents.');
  p('Floor for a `.tar.gz`: `tar -tzf` (decompress and walk every header, which any reader of a compressed acquisition must do).');
  p('"net" takes `node -e 0` off dockscope\'s time: what is left once the interpreter has started.');
  p();
  p('| size | form | command | median ms | × floor | × floor, net | CPU ms | CPU × floor | × all | peak RSS MB |');
  p('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    if (r.size === '-' || SPECS[r.size]?.content) continue;
    const s = r.stats;
    const label = r.files !== undefined ? `${r.what} (${r.files})` : r.what;
    const what = r.kind === 'floor' ? `**${cell(label)}**` : r.kind === 'todo' ? `${cell(label)} *(TODO)*` : cell(label);
    const ms = s ? fmtMs(s.median) + (s.error ? ` ⚠ ${s.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')}` : '') : (r.note ?? '');
    const own = r.what.startsWith('floor for ');
    p(`| ${r.size} | ${r.form} | ${what} | ${ms} | ${r.kind === 'floor' && !own ? '1.00×' : own ? '' : fmtX(r.ratio)} | ${fmtX(r.netRatio)} | ${fmtMs(s?.cpu)} | ${r.kind === 'floor' && !own ? '1.00×' : own ? '' : fmtX(r.cpuRatio)} | ${own ? fmtX(r.ratio) : fmtX(r.allRatio)} | ${fmtMB(s?.rssMB)} |`);
  }
  p();
  // Growth
  const listing = [...stores.keys()].filter((s) => !SPECS[s]!.content);
  if (listing.length >= 2) {
    p('## How cost grows with store size');
    p();
    p('Median wall ms per size (CPU ms in parentheses). The exponent *b* fits cost ∝ layers^b between the two largest');
    p('sizes, on wall time and on CPU time (1 = linear). The fixed start-up (`node -e 0`) is taken off dockscope\'s');
    p('times first, so it does not flatter the fit.');
    p();
    p(`| form | command | ${listing.map((s) => `${s} (${stores.get(s)!.counts.layers} layers)`).join(' | ')} | b (wall) | b (CPU) |`);
    p(`|---|---|${listing.map(() => '---|').join('')}---|---|`);
    // The content store is one size, not a step in the series: its rows are in their own table.
    const whats = [...new Set(rows.filter((r) => (r.kind === 'dockscope' || r.kind === 'floor') && r.size !== '-' && !SPECS[r.size]?.content).map((r) => `${r.form}\t${r.what}`))];
    const la = stores.get(listing[listing.length - 2]!)!.counts.layers;
    const lb = stores.get(listing[listing.length - 1]!)!.counts.layers;
    const fit = (ta: number | undefined, tb: number | undefined, off: number) =>
      ta !== undefined && tb !== undefined && ta - off > 0 && tb - off > 0 ? (Math.log((tb - off) / (ta - off)) / Math.log(lb / la)).toFixed(2) : '–';
    for (const key of whats) {
      const [form, what] = key.split('\t') as [Form, string];
      const st = listing.map((s) => rows.find((r) => r.size === s && r.form === form && r.what === what)?.stats);
      const ds = what.startsWith('dockscope');
      const n = listing.length;
      const bWall = fit(st[n - 2]?.median, st[n - 1]?.median, ds ? nodeE0.median : 0);
      const bCpu = fit(st[n - 2]?.cpu, st[n - 1]?.cpu, ds ? (nodeE0.cpu ?? 0) : 0);
      p(`| ${form} | ${cell(what)} | ${st.map((x) => (x ? `${fmtMs(x.median)} (${fmtMs(x.cpu)})` : '–')).join(' | ')} | ${bWall} | ${bCpu} |`);
    }
    p();
  }
  // Content
  const contentRows = rows.filter((r) => SPECS[r.size]?.content);
  const verifyOn = rows.some((r) => r.what === 'dockscope verify --no-content');
  if (contentRows.length) {
    p('## Content: verify and export');
    p();
    p('Each content image\'s whole chain (its base layers and one big layer), which is what `verify <image>` re-hashes. The');
    p('floor is `tar-split asm --input … --path … | sha256sum` per layer (Go, Debian package `tar-split`), "× sha256sum" is');
    p('the time against plain `sha256sum` of the reassembled layer tars (warm in the page cache), "× GNU tar" against');
    p('`tar -cf - .` piped to `cat` over a read-only kernel overlay mount of the chain when the bench runs as root (what export');
    p('writes: the merged tree), else over each layer\'s `diff/`; both are shown when both ran.');
    p();
    p('| store | image | what | median ms | MB/s | × tar-split asm | × sha256sum | × GNU tar | CPU ms | peak RSS MB |');
    p('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of contentRows) {
      const cut = r.what.indexOf(': ');
      const image = r.what.slice(0, cut);
      const what = r.what.slice(cut + 2);
      const mbs = r.stats && r.bytes ? (r.bytes / 1e6 / (r.stats.median / 1000)).toFixed(0) : '–';
      const name = r.kind === 'floor' ? `**${cell(what)}**` : r.kind === 'todo' ? `${cell(what)} *(TODO)*` : cell(what);
      p(`| ${r.size} | ${cell(image)} | ${name} | ${r.stats ? fmtMs(r.stats.median) + (r.stats.error ? ` ⚠ ${cell(r.stats.error.replace(/\n/g, ' '))}` : '') : r.note} | ${mbs} | ${fmtX(r.ratio)} | ${fmtX(r.shaRatio)} | ${fmtX(r.tarRatio)} | ${fmtMs(r.stats?.cpu)} | ${fmtMB(r.stats?.rssMB)} |`);
    }
    p();
  } else {
    p('## Verify and export on large layers');
    p();
    p(
      verifyOn
        ? 'Content verification (`verify <image>` against `tar-split asm | sha256sum` and `sha256sum`, layers up to 1 GiB) runs on the content store, which this run left out (`--sizes content`, in the default run). The `verify --no-content` rows above are its metadata checks on every store.'
        : '`dockscope verify` is **not yet implemented**: its rows above are TODO.',
    );
    p(
      rows.some((r) => r.what === 'dockscope export')
        ? '`dockscope export` is **not yet implemented**: its rows are TODO. Its baseline, GNU tar over the layer files, runs on the content store.'
        : '`dockscope export` (against GNU tar over the layer files) is measured on the content store: `--sizes content`.',
    );
    p();
  }
  // Targets
  p('## Targets');
  p();
  const big = listing[listing.length - 1];
  const lines: string[] = [];
  const listingNames = new Set(COMMANDS.filter((c) => c.listing).map((c) => `dockscope ${c.name}`));
  const dsRows = rows.filter((r) => r.kind === 'dockscope' && r.size !== '-' && listingNames.has(r.what));
  const over = dsRows.filter((r) => (r.ratio ?? 0) > TARGET.listRatio);
  const netOver = dsRows.filter((r) => (r.netRatio ?? 0) > TARGET.listRatio);
  if (dsRows.length === 0) lines.push(`- **Listing and resolving within ${TARGET.listRatio}× of the metadata I/O floor at every size:** not measured in this run (no listing store).`);
  else
    lines.push(
      `- **Listing and resolving within ${TARGET.listRatio}× of the metadata I/O floor at every size:** ${over.length === 0 ? '**met**' : `**not met** in ${over.length} of ${dsRows.length} cases`}` +
        (over.length ? ` (worst: ${worstOf(over)}); net of node start-up, ${netOver.length} of ${dsRows.length} are over (worst: ${netOver.length ? worstOf(netOver, true) : '–'}).` : '.'),
    );
  lines.push(`- **Start-up within ${TARGET.startupRatio}× of \`node -e 0\`:** ${su <= TARGET.startupRatio ? '**met**' : '**not met**'} (${fmtX(su)}: ${fmtMs(version.median)} ms against ${fmtMs(nodeE0.median)} ms).`);
  if (big) {
    const all = rows.filter((r) => r.kind === 'dockscope' && r.size === big);
    const worst = [...all].sort((a, b) => (b.stats?.rssMB ?? 0) - (a.stats?.rssMB ?? 0))[0];
    const peak = worst?.stats?.rssMB ?? 0;
    lines.push(`- **Peak memory under ${TARGET.rssMB} MB on the largest store (${big}):** ${peak < TARGET.rssMB ? '**met**' : '**not met**'} (largest: ${fmtMB(peak)} MB, ${worst ? `${worst.form} ${worst.what}` : ''}).`);
  }
  const ver = contentRows.filter((r) => r.kind === 'dockscope' && r.what.endsWith('dockscope verify <image>') && r.stats);
  if (ver.length) {
    const slow = ver.filter((r) => (r.ratio ?? Infinity) > 1);
    const slowSha = ver.filter((r) => (r.shaRatio ?? Infinity) > 1 / 0.7);
    const rss = ver.map((r) => r.stats!.rssMB ?? 0);
    lines.push(`- **Verify at least as fast as \`tar-split asm | sha256sum\`:** ${slow.length ? `**not met** for ${slow.length} of ${ver.length} images (${slow.map((r) => `${r.what.split(':')[0]} ${fmtX(r.ratio)}`).join(', ')})` : '**met**'} (ratio ≤ 1.00×).`);
    lines.push(`- **Verify at least 70% of plain \`sha256sum\`'s speed:** ${slowSha.length ? `**not met** for ${slowSha.length} of ${ver.length} images (${slowSha.map((r) => `${r.what.split(':')[0]} ${fmtX(r.shaRatio)} its time`).join(', ')})` : '**met**'} (time ≤ 1.43× sha256sum's).`);
    lines.push(`- **Verify memory flat in layer size:** peak RSS ${rss.map((x) => fmtMB(x)).join(' / ')} MB for layers of ${ver.map((r) => `${((r.bytes ?? 0) / 2 ** 20).toFixed(0)} MiB`).join(' / ')} — ${Math.max(...rss) - Math.min(...rss) < 50 ? '**met**' : '**not met**'} (spread under 50 MB).`);
  } else if (verifyOn) {
    lines.push('- **Verify ≥ `tar-split asm | sha256sum` and ≥ 70% of `sha256sum`, memory flat in layer size:** not measured in this run (`--sizes content` measures it).');
  } else {
    lines.push('- **Verify ≥ `tar-split asm | sha256sum` and ≥ 70% of `sha256sum`, memory flat in layer size:** not measured — `verify` is not yet implemented.');
  }
  const exp = contentRows.filter((r) => r.kind === 'dockscope' && r.what.endsWith('dockscope export <image>') && r.stats);
  if (exp.length) {
    const slow = exp.filter((r) => (r.tarRatio ?? Infinity) > 1 / 0.8);
    const rss = exp.map((r) => r.stats!.rssMB ?? 0);
    lines.push(
      `- **Export at least 80% of GNU tar's speed:** ${slow.length ? `**not met** for ${slow.length} of ${exp.length} images (${slow.map((r) => `${r.what.split(':')[0]} ${fmtX(r.tarRatio)} its time`).join(', ')})` : '**met**'} (time ≤ 1.25× GNU tar's).`,
    );
    lines.push(`- **Export memory flat in layer size:** peak RSS ${rss.map((x) => fmtMB(x)).join(' / ')} MB — ${Math.max(...rss) - Math.min(...rss) < 50 ? '**met**' : '**not met**'} (spread under 50 MB).`);
  } else if (rows.some((r) => r.what === 'dockscope export')) {
    lines.push('- **Export ≥ 80% of GNU tar, memory flat in layer size:** not measured — `export` is not yet implemented (TODO rows).');
  } else {
    lines.push('- **Export ≥ 80% of GNU tar, memory flat in layer size:** not measured in this run (`--sizes content` measures it).');
  }
  for (const l of lines) p(l);
  p();
  if (profiles.length) {
    p('## Where the time goes (CPU profiles, largest store, commands over target)');
    p();
    p('`node --cpu-prof` of one run: self time by function, then inclusive time of dockscope\'s functions.');
    p();
    for (const pr of profiles) {
      p(`**${pr.label}** — ${pr.summary.total.toFixed(0)} ms sampled`);
      p();
      p('| self % | ms | function (native calls: ← the caller) |');
      p('|---|---|---|');
      for (const r of pr.summary.self) p(`| ${r.pct.toFixed(1)} | ${r.ms.toFixed(0)} | \`${r.where}\` |`);
      p();
      p('| inclusive % | ms | dockscope function |');
      p('|---|---|---|');
      for (const r of pr.summary.inclusive) p(`| ${r.pct.toFixed(1)} | ${r.ms.toFixed(0)} | \`${r.where}\` |`);
      p();
    }
  }
  p('## Analysis');
  p();
  p(previousAnalysis ?? '<!-- analysis:begin -->\n_Not written yet: add the reading of these figures between the analysis markers; `npm run bench` keeps it._\n<!-- analysis:end -->');
  p();
  return out.join('\n');
}

/** A table cell: pipes escaped, angle brackets shown as text. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function worstOf(rows: Row[], net = false): string {
  const r = [...rows].sort((a, b) => ((net ? b.netRatio : b.ratio) ?? 0) - ((net ? a.netRatio : a.ratio) ?? 0))[0]!;
  return `${r.size} ${r.form} ${r.what.replace(/^dockscope /, '')} at ${fmtX(net ? r.netRatio : r.ratio)}`;
}

main();
