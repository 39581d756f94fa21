/**
 * The fuzz targets: one per parser (and one for the whole model), each with its seeds directory,
 * its mutator and a run function that drives the parser over an input and returns its findings.
 * A run that throws is a bug: the contract is that evidence never makes a parser throw.
 */
import { hashLayer, layerFilesFromSource, walkLayerTree, type WhiteoutStyle } from '../../src/analysis/reassemble.js';
import { dockerBytes, joinPartials, planLogs, readLogEntries, selectEntries } from '../../src/analysis/logs.js';
import { buildModel } from '../../src/model/graph.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEvidence } from '../../src/source/open.js';
import { isEvidenceError, type Source } from '../../src/source/types.js';
import { openBolt, type Bucket } from '../../src/store/bbolt.js';
import { listIngests } from '../../src/store/containerd-ingest.js';
import { loadContainer, loadContainers, parseContainerConfig } from '../../src/store/containers.js';
import { loadDistribution } from '../../src/store/distribution.js';
import { Findings, type Finding } from '../../src/store/findings.js';
import { parseImageConfig } from '../../src/store/imageconfig.js';
import { formatLogTime, readJsonLog, type LogEntry } from '../../src/store/jsonlog.js';
import { loadLayerDb } from '../../src/store/layerdb.js';
import { parseLinkgraph } from '../../src/store/linkgraph.js';
import { loadAufs } from '../../src/store/aufs.js';
import { loadLegacyGraph, loadLegacyRepositories, loadMigrationMap } from '../../src/store/legacy.js';
import { detectLayout } from '../../src/store/layout.js';
import { decodeLogEntry, readLocalLog } from '../../src/store/locallog.js';
import { loadNetworkStore, parseNetworkDb } from '../../src/store/networks.js';
import { Overlay2Dirs } from '../../src/store/overlay2.js';
import { parseRepositories } from '../../src/store/repositories.js';
import { openTarSplit, readTarSplit } from '../../src/store/tarsplit.js';
import { loadVolumeStore, parseVolumeDb } from '../../src/store/volumes.js';
import { mutateBolt } from './mutate-bolt.js';
import { mutateLocalLog, mutateProto } from './mutate-proto.js';
import { mutateJsonLog, mutateTarBytes, mutateTarSplitGz } from './mutate-stream.js';
import { mutateTree } from './mutate-tree.js';
import { mutateBytes, mutateJson, type Dict } from './mutate.js';
import { Rng } from './prng.js';
import { MemSource, treeToTgz, type Tree } from './tree.js';
import { everything } from '../helpers/everything.js';

export type Input = Buffer | Tree;

export interface Outcome {
  findings: Finding[];
  /** Extra coverage features besides finding codes (e.g. 'db-opened', 'entries:8+'). */
  facts?: string[];
}

export interface Target {
  name: string;
  kind: 'bytes' | 'tree';
  /** Extension of saved inputs (trees are always .tgz). */
  ext: string;
  /** What the target drives, for the report. */
  about: string;
  /** Largest input (each file of a tree) the engine lets a mutation produce; default MAX_INPUT. */
  maxInput?: number;
  /** False: left out of the bounded CI run (known open bugs outside src/store; see README.md). */
  ci?: boolean;
  /** Seeds directory to use when it is another target's (default: the target's name). */
  seeds?: string;
  mutate(input: Input, rng: Rng, others: Input[]): Input;
  /** Bytes targets get the bytes; tree targets get a Source over the tree. */
  run(input: Buffer | Source, rng: Rng): Outcome | Promise<Outcome>;
}

// ---------------------------------------------------------------------------------------------
// helpers

/** Feeds bytes in random-sized chunks: lines and frames must survive any chunk boundary. */
export async function* chunked(b: Buffer, rng: Rng): AsyncGenerator<Buffer> {
  let off = 0;
  // tiny chunks only for small inputs: a megabyte in 4-byte chunks tests the harness, not the parser
  const mode = b.length > 64 << 10 ? rng.pick([0, 2, 3]) : rng.int(4);
  while (off < b.length) {
    const n = mode === 0 ? b.length : mode === 1 ? 1 + rng.int(7) : mode === 2 ? 1 + rng.int(4096) : 1 + rng.int(65536);
    yield b.subarray(off, off + n);
    off += n;
  }
}

function bucketOf(n: number): string {
  return n === 0 ? '0' : n < 2 ? '1' : n < 8 ? '2+' : n < 64 ? '8+' : n < 1024 ? '64+' : '1k+';
}

const bytesDict = (b: Buffer): Dict => {
  const tokens = new Set<string>();
  const s = b.subarray(0, 64 << 10).toString('latin1');
  for (const m of s.matchAll(/"([^"\\]{1,80})"/g)) {
    tokens.add(m[1]!);
    if (tokens.size > 100) break;
  }
  for (const m of s.matchAll(/[0-9a-f]{64}/g)) {
    tokens.add(m[0]);
    if (tokens.size > 150) break;
  }
  return { tokens: [...tokens] };
};

function asBuffers(others: Input[]): Buffer[] {
  return others.filter((o): o is Buffer => Buffer.isBuffer(o));
}
function asTrees(others: Input[]): Tree[] {
  return others.filter((o): o is Tree => o instanceof Map);
}

function bytesTarget(
  name: string,
  ext: string,
  about: string,
  mutator: (b: Buffer, rng: Rng, dict: Dict, others: Buffer[]) => Buffer,
  run: (b: Buffer, rng: Rng) => Outcome | Promise<Outcome>,
): Target {
  return {
    name,
    kind: 'bytes',
    ext,
    about,
    mutate: (input, rng, others) => {
      const b = input as Buffer;
      return mutator(b, rng, bytesDict(b), asBuffers(others));
    },
    run: (input, rng) => run(input as Buffer, rng),
  };
}

function treeTarget(name: string, about: string, run: (src: Source, rng: Rng) => Outcome | Promise<Outcome>): Target {
  return {
    name,
    kind: 'tree',
    ext: '.tgz',
    about,
    mutate: (input, rng, others) => mutateTree(input as Tree, rng, asTrees(others)),
    run: (input, rng) => run(input as Source, rng),
  };
}

/** A deterministic walk of a whole bbolt file: every bucket, every key looked up again, stale pages. */
function walkBolt(buf: Buffer): Outcome {
  const { db, findings } = openBolt(buf, { path: 'fuzz.db' });
  const facts: string[] = [];
  if (db) {
    facts.push('opened', `order:${db.byteOrder}`);
    let entries = 0;
    let buckets = 0;
    const visit = (b: Bucket, depth: number) => {
      const keys: Buffer[] = [];
      for (const e of b.entries()) {
        entries++;
        if (keys.length < 50) keys.push(e.key);
        if (e.bucket) {
          buckets++;
          visit(e.bucket, depth + 1);
        }
      }
      for (const k of keys) {
        b.get(k);
        b.bucket(k);
      }
      b.get(Buffer.from('no such key'));
    };
    visit(db.root(), 0);
    db.bucketPath('volumes');
    db.bucketPath('libnetwork');
    db.bucketPath('v1', 'moby', 'content');
    let stale = 0;
    for (const r of db.deleted()) {
      stale++;
      void r;
    }
    db.freelist();
    facts.push(`entries:${bucketOf(entries)}`, `buckets:${bucketOf(buckets)}`, `stale:${bucketOf(stale)}`);
  }
  return { findings: db ? db.findings : findings, facts };
}

async function drain<T>(it: AsyncIterable<T>, max = 1_000_000): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) if (out.length < max) out.push(x);
  return out;
}

/**
 * Bounds passed to the streaming parsers: their cost is linear in what they inflate, at worst
 * ~17 µs per malformed line (a thrown SyntaxError each), so the bounds keep one input's work
 * within the per-input time limit; the caps' own logic is exercised all the same.
 */
const TARSPLIT_BOUNDS = { maxInflatedBytes: 512 << 10, maxEntries: 50_000 };

/** The 64-hex id the container seeds use for their directory. */
export const CTR_ID = '9fecdb266bc900821bcc2a3aa8e22bacf6fa43c9612d3d386349a263ac544505';

// ---------------------------------------------------------------------------------------------
// the targets

export const TARGETS: Target[] = [
  bytesTarget('repositories', '.json', 'store/repositories.ts parseRepositories', mutateJson, (b) => {
    const f = new Findings();
    const r = parseRepositories(b, 'image/overlay2/repositories.json', f);
    return { findings: f.list, facts: [`refs:${bucketOf(r.length)}`] };
  }),

  bytesTarget('imageconfig', '.json', 'store/imageconfig.ts parseImageConfig', mutateJson, (b) => {
    const f = new Findings();
    const c = parseImageConfig(b, 'image/overlay2/imagedb/content/sha256/x', f);
    return { findings: f.list, facts: [c ? `layers:${bucketOf(c.diffIDs.length)}` : 'refused'] };
  }),

  bytesTarget('container-config', '.json', 'store/containers.ts parseContainerConfig', mutateJson, (b) => {
    const f = new Findings();
    const c = parseContainerConfig(b, CTR_ID, `containers/${CTR_ID}/config.v2.json`, f);
    return { findings: f.list, facts: [c ? `mounts:${bucketOf(c.mountPoints.length)}` : 'refused'] };
  }),

  // hostconfig.json is read by loadContainer and interpreted by the log planner.
  {
    ...bytesTarget('hostconfig', '.json', 'store/containers.ts loadContainer (hostconfig.json) + analysis/logs.ts planLogs', mutateJson, () => ({ findings: [] })),
    run: (input) => {
      const b = input as Buffer;
      const dir = `containers/${CTR_ID}`;
      const cfg = JSON.stringify({ ID: CTR_ID, Name: '/x', Driver: 'overlay2', LogPath: `/var/lib/docker/${dir}/${CTR_ID}-json.log`, State: {}, Config: { Tty: false } });
      const src = new MemSource(
        new Map([
          [`${dir}/config.v2.json`, { type: 'file', body: Buffer.from(cfg) }],
          [`${dir}/hostconfig.json`, { type: 'file', body: b }],
          [`${dir}/${CTR_ID}-json.log`, { type: 'file', body: Buffer.from('{"log":"hi\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n') }],
        ]),
      );
      const f = new Findings();
      const rec = loadContainer(src, CTR_ID, f);
      const facts: string[] = [];
      if (rec) {
        const plan = planLogs(src, rec, f, {});
        facts.push(`driver:${plan.format ?? 'none'}`, `files:${bucketOf(plan.files.length)}`);
      }
      return { findings: f.list, facts };
    },
  },

  treeTarget('layerdb', 'store/layerdb.ts loadLayerDb (layers, mounts, -removing, write-sets)', (src) => {
    const f = new Findings();
    const db = loadLayerDb(src, 'image/overlay2', f);
    return { findings: f.list, facts: [`layers:${bucketOf(db.layers.size)}`, `mounts:${bucketOf(db.mounts.size)}`] };
  }),

  treeTarget('overlay2', 'store/overlay2.ts Overlay2Dirs (dirs, link, lower, l/)', (src) => {
    const f = new Findings();
    const dirs = new Overlay2Dirs(src, 'overlay2', f);
    let lowers = 0;
    for (const id of dirs.ids()) {
      const d = dirs.dir(id);
      if (d?.link) dirs.shortLink(d.link);
      for (const l of (d?.lower ?? []).slice(0, 200)) {
        lowers++;
        dirs.shortLink(l.replace(/^l\//, ''));
      }
    }
    for (const n of dirs.linkNames()) dirs.shortLink(n);
    // ids from evidence go through dir(): hostile ones must be refused, not followed
    for (const id of ['..', '.', 'l', '', '../x', 'a/b', '\0', 'l/..']) dirs.dir(id);
    return { findings: f.list, facts: [`lowers:${bucketOf(lowers)}`] };
  }),

  treeTarget('containerd-ingest', 'store/containerd-ingest.ts listIngests (ref, data, total, startedat, updatedat)', (src) => {
    const f = new Findings();
    const list = listIngests(src, 'io.containerd.content.v1.content', f);
    return { findings: f.list, facts: [`ingests:${bucketOf(list.length)}`, ...list.slice(0, 4).map((i) => `${i.refMatchesDir ? 'ref' : 'noref'}:${i.total !== undefined}:${i.startedAt !== undefined}`)] };
  }),

  treeTarget('distribution', 'store/distribution.ts loadDistribution', (src) => {
    const f = new Findings();
    const d = loadDistribution(src, 'image/overlay2', f);
    return { findings: f.list, facts: [`v2:${bucketOf(d.byDiffID.size)}`, `dd:${bucketOf(d.diffIDByDigest.size)}`] };
  }),

  bytesTarget('tarsplit', '.json.gz', 'store/tarsplit.ts readTarSplit (gzip, JSON lines, tar headers)', mutateTarSplitGz, async (b, rng) => {
    const f = new Findings();
    const it = readTarSplit(chunked(b, rng), f, { path: 'tar-split.json.gz', ...TARSPLIT_BOUNDS, maxLineBytes: rng.chance(0.2) ? 4096 : undefined, maxEntries: rng.chance(0.1) ? 5 : TARSPLIT_BOUNDS.maxEntries });
    let files = 0;
    let r = await it.next();
    while (!r.done) {
      if (r.value.type === 'file') files++;
      r = await it.next();
    }
    return { findings: f.list, facts: [`files:${bucketOf(files)}`, r.value.complete ? 'complete' : 'partial'] };
  }),

  treeTarget('reassemble', 'analysis/reassemble.ts hashLayer over tar-split + a layer directory', async (src, rng) => {
    const f = new Findings();
    let diff: Source;
    try {
      diff = src.sub('diff');
    } catch {
      diff = new MemSource(new Map());
    }
    const whiteouts = rng.pick<WhiteoutStyle>(['overlay', 'literal', 'none']);
    const r = await hashLayer(openTarSplit(src, 'tar-split.json.gz', f, TARSPLIT_BOUNDS), layerFilesFromSource(diff), {
      findings: f,
      whiteouts,
      tree: walkLayerTree(diff, { findings: f, maxDepth: 64 }),
      maxPadBytes: 4 << 20,
      expectedDiffID: 'sha256:' + '0'.repeat(64),
    });
    return { findings: f.list, facts: [`checked:${bucketOf(r.checked)}`, r.complete ? 'complete' : 'partial'] };
  }),

  bytesTarget('jsonlog', '.log', 'store/jsonlog.ts readJsonLog + analysis/logs.ts joinPartials', mutateJsonLog, async (b, rng) => {
    const f = new Findings();
    const entries = await drain(readJsonLog(chunked(b, rng), { path: 'x-json.log', findings: f, maxLine: rng.chance(0.2) ? rng.pick([16, 256, 4096]) : undefined }));
    const lines = await drain(joinPartials(fromArray(entries), rng.chance(0.2) ? 64 : undefined));
    for (const e of entries.slice(0, 200)) formatLogTime(e.time);
    return { findings: f.list, facts: [`entries:${bucketOf(entries.length)}`, `lines:${bucketOf(lines.length)}`] };
  }),

  bytesTarget('locallog', '.log', 'store/locallog.ts readLocalLog + analysis/logs.ts joinPartials', mutateLocalLog, async (b, rng) => {
    const f = new Findings();
    const entries = await drain(
      readLocalLog(chunked(b, rng), { path: 'container.log', findings: f, legacyNewline: rng.chance(0.5), maxFrame: rng.chance(0.2) ? rng.pick([8, 64, 1024]) : undefined, maxResyncAttempts: 20_000 }),
    );
    const lines = await drain(joinPartials(fromArray(entries), rng.chance(0.2) ? 64 : undefined));
    for (const e of entries.slice(0, 200)) formatLogTime(e.time);
    return { findings: f.list, facts: [`entries:${bucketOf(entries.length)}`, `lines:${bucketOf(lines.length)}`] };
  }),

  bytesTarget('logentry', '.pb', 'store/locallog.ts decodeLogEntry (one protobuf message)', (b, rng, dict) => mutateProto(b, rng, dict), (b) => {
    const r = decodeLogEntry(b);
    if (typeof r === 'string') return { findings: [], facts: [`error:${r.replace(/\d+/g, 'N').slice(0, 40)}`] };
    if (typeof r !== 'object' || r === null) throw new Error('decodeLogEntry returned neither an entry nor a reason');
    formatLogTime({ ns: r.timeNano, offset: 0 });
    return { findings: [], facts: ['ok', r.partial ? 'partial' : 'whole', r.partialMeta ? 'meta' : 'nometa'] };
  }),

  treeTarget('logs', 'analysis/logs.ts planLogs + readLogEntries over a container dir (rotations, .gz, local)', async (src, rng) => {
    const f = new Findings();
    const facts: string[] = [];
    for (const rec of loadContainers(src, f)) {
      const plan = planLogs(src, rec, f, { allFiles: rng.chance(0.3), inflateLimit: 512 << 10 });
      const entries: LogEntry[] = [];
      const tail = rng.pick([-1, -1, 0, 1, 3]);
      for await (const e of selectEntries(readLogEntries(src, plan, f, { maxLine: rng.chance(0.2) ? 128 : undefined }), { tail, since: rng.chance(0.2) ? 0n : undefined })) {
        if (entries.length < 100_000) entries.push(e);
        dockerBytes(e, { timestamps: true, details: true });
      }
      await drain(joinPartials(fromArray(entries)));
      facts.push(`format:${plan.format ?? 'none'}`, `entries:${bucketOf(entries.length)}`);
    }
    return { findings: f.list, facts };
  }),

  bytesTarget('bbolt', '.db', 'store/bbolt.ts openBolt + full walk + lookups + deleted()', mutateBolt, (b) => walkBolt(b)),

  bytesTarget('linkgraph', '.db', 'store/sqlite.ts + store/linkgraph.ts parseLinkgraph (pre-1.10 SQLite)', mutateBytes, (b) => {
    const f = new Findings();
    const lg = parseLinkgraph(b, 'linkgraph.db', f);
    return { findings: f.list, facts: [`names:${bucketOf(lg.names.size)}`, `links:${bucketOf(lg.links.length)}`] };
  }),

  bytesTarget('volumes', '.db', 'store/volumes.ts parseVolumeDb (live and deleted records)', mutateBolt, (b) => {
    const f = new Findings();
    const r = parseVolumeDb(b, 'volumes/metadata.db', f, { deleted: true });
    return { findings: f.list, facts: [`metas:${bucketOf(r.metas.size)}`, `deleted:${bucketOf(r.deleted.length)}`] };
  }),

  bytesTarget('networks', '.db', 'store/networks.ts parseNetworkDb (live and deleted records)', mutateBolt, (b) => {
    const f = new Findings();
    const s = parseNetworkDb(b, 'network/files/local-kv.db', f, { deleted: true });
    return { findings: f.list, facts: [`nets:${bucketOf(s.networks.size)}`, `eps:${bucketOf(s.endpoints.length)}`, `deleted:${bucketOf(s.deleted.length)}`] };
  }),

  treeTarget('legacy', 'store/legacy.ts + store/aufs.ts + the model over a pre-1.10 host (graph/, repositories-<driver>, aufs/layers)', (src) => {
    const f = new Findings();
    const graph = loadLegacyGraph(src, f);
    loadLegacyRepositories(src, f);
    loadMigrationMap(src, f);
    const aufs = loadAufs(src, f);
    const model = buildModel(src);
    for (const l of model.layers.values()) model.loadError(l.chainID);
    return { findings: [...f.list, ...model.findings.list], facts: [`graph:${bucketOf(graph.size)}`, `aufs:${bucketOf(aufs.size)}`, `images:${bucketOf(model.images.size)}`, `containers:${bucketOf(model.containers.size)}`] };
  }),

  bytesTarget('acquisition', '.tar', 'source/tar.ts TarSource + source/open.ts over a damaged acquisition, then the model', mutateTarBytes, async (b, rng) => {
    const file = tmpEvidence(b);
    try {
      const ev = await openEvidence(file);
      const facts = [`problems:${bucketOf(ev.problems.length)}`, `root:${ev.rootPath === '' ? 'top' : 'found'}`];
      const seen = await walkSource(ev.top, rng);
      facts.push(`entries:${bucketOf(seen)}`);
      const model = buildModel(ev.root);
      // layer metadata read back through the archive, as verify does
      for (const l of [...model.layers.values()].slice(0, 4)) {
        if (!l.record?.hasTarSplit) continue;
        const it = openTarSplit(ev.root, `image/overlay2/layerdb/sha256/${l.chainID.slice(7)}/tar-split.json.gz`, model.findings, TARSPLIT_BOUNDS);
        for (let r = await it.next(); !r.done; r = await it.next());
      }
      return { findings: model.findings.list, facts };
    } finally {
      fs.rmSync(file, { force: true });
    }
  }),

  {
    ...treeTarget('commands', 'every answer over a whole data root (test/helpers/everything.ts): no raw control character in human output, valid JSON', async () => ({ findings: [] })),
    seeds: 'model',
    run: async (input) => {
      // everything() opens evidence by path: the tree goes to a .tgz acquisition first
      const tree = input instanceof MemSource ? input.treeOf() : undefined;
      if (!tree) return { findings: [] }; // replayed through TarSource: everything() opens files itself
      const file = tmpEvidence(await treeToTgz(tree));
      try {
        const { human, json, model } = await everything(file);
        const bad = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.exec(human);
        if (bad) throw new InvariantError(`raw U+${bad[0].codePointAt(0)!.toString(16).padStart(4, '0')} reached human output near ${JSON.stringify(human.slice(Math.max(0, bad.index - 40), bad.index + 10))}`);
        for (const j of json) JSON.parse(j);
        return { findings: model.findings.list, facts: [`images:${bucketOf(model.images.size)}`, `containers:${bucketOf(model.containers.size)}`] };
      } finally {
        fs.rmSync(file, { force: true });
      }
    },
  },

  treeTarget('model', 'model/graph.ts buildModel over a whole data root (+ layout, volumes, networks)', (src) => {
    const model = buildModel(src);
    const f = model.findings;
    detectLayout(src, f);
    loadVolumeStore(src, f, { deleted: true });
    loadNetworkStore(src, f, { deleted: true });
    for (const l of model.layers.values()) {
      model.loadError(l.chainID);
      model.chainSize(l.chainID);
    }
    return { findings: f.list, facts: [`images:${bucketOf(model.images.size)}`, `containers:${bucketOf(model.containers.size)}`, `layers:${bucketOf(model.layers.size)}`] };
  }),
];

/**
 * Line- and frame-oriented parsers spend up to ~10 µs on each malformed line: a quarter of a MiB
 * of them is already a second. Their inputs are kept at that size so the time limit means "stuck",
 * not "long input" (see the report in README.md for the throughput figures).
 */
for (const t of TARGETS) if (['jsonlog', 'locallog', 'logs', 'tarsplit', 'reassemble'].includes(t.name)) t.maxInput = 256 << 10;

/** An output invariant broke (not an exception from the code under test, but as bad). */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

/** An acquisition file for TarSource, on tmpfs when there is one. */
function tmpEvidence(b: Buffer): string {
  const dir = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const file = path.join(dir, `dockscope-fuzz-acq-${process.pid}-${Math.random().toString(36).slice(2)}.tar`);
  fs.writeFileSync(file, b);
  return file;
}

/** Every entry of a source (bounded): stat, read, list, xattrs, and a few streams to the end. */
async function walkSource(src: Source, rng: Rng): Promise<number> {
  let n = 0;
  const stack = [''];
  const streams: string[] = [];
  while (stack.length && n < 5000) {
    const dir = stack.pop()!;
    let names: string[] = [];
    try {
      names = src.readdir(dir) ?? [];
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
    }
    for (const name of names) {
      const p = dir ? `${dir}/${name}` : name;
      n++;
      try {
        const st = src.lstat(p);
        src.xattrs(p);
        if (st?.type === 'dir') stack.push(p);
        else if (st?.type === 'symlink') {
          src.readlink(p);
          src.stat(p);
        } else if (st?.type === 'file') {
          try {
            src.readFile(p, 1 << 20);
            if (streams.length < 3 && rng.chance(0.2)) streams.push(p);
          } catch (e) {
            // not kept in memory (or too big to read whole): what streams are for
            if (!isEvidenceError(e, 'ETOOBIG')) throw e;
            if (streams.length < 6) streams.push(p);
          }
        }
      } catch (e) {
        if (!isEvidenceError(e)) throw e;
      }
    }
  }
  for (const p of streams) {
    try {
      for await (const c of src.createReadStream(p)) void c;
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
    }
  }
  return n;
}


async function* fromArray<T>(a: T[]): AsyncGenerator<T> {
  yield* a;
}

export function targetByName(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${JSON.stringify(name)}; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
