/**
 * Every bound on what one read or decompression of the evidence may cost, in one place: the
 * evidence is written by an attacker, so no size, count or ratio in it is trusted. Each bound ends
 * in a finding naming it, never in a silent cut. The analyst may raise or lower any of them with
 * `--limit name=value` (sizes take K, M, G suffixes, powers of 1024).
 */
export interface Limits {
  /** One JSON or small metadata file (image config, config.v2.json, layerdb files …). */
  metadataBytes: number;
  /** One bbolt database (meta.db, metadata.db, local-kv.db), read whole. */
  boltBytes: number;
  /** Archive acquisitions: bodies up to this size are kept in memory while indexing. */
  tarKeepFileBytes: number;
  /** Archive acquisitions: all kept bodies together; larger ones are streamed from the archive again. */
  tarKeepTotalBytes: number;
  /** Of which bodies inside layer, snapshot and volume file trees (listing never reads those). */
  tarKeepContentBytes: number;
  /** Archive acquisitions: entries indexed. */
  tarEntries: number;
  /** One tar-split file, decompressed. */
  tarsplitInflatedBytes: number;
  /** One tar-split JSON line. */
  tarsplitLineBytes: number;
  /** Entries in one tar-split file. */
  tarsplitEntries: number;
  /** One rotated `.gz` log, decompressed (when the container's max-size does not say more). */
  logInflatedBytes: number;
  /** One json-file log line. */
  logLineBytes: number;
  /** One `local` driver log frame. */
  logFrameBytes: number;
  /** Files counted when sizing one volume's `_data`. */
  volumeUsageEntries: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  metadataBytes: 64 * MiB,
  boltBytes: 1 * GiB,
  tarKeepFileBytes: 1 * MiB,
  tarKeepTotalBytes: 512 * MiB,
  tarKeepContentBytes: 4 * MiB,
  tarEntries: 5_000_000,
  tarsplitInflatedBytes: 1 * GiB,
  tarsplitLineBytes: 8 * MiB,
  tarsplitEntries: 20_000_000,
  logInflatedBytes: 1 * GiB,
  logLineBytes: 1 * MiB,
  // dockerd itself refuses larger frames (`daemon/logger/local/read.go` maxMsgLen)
  logFrameBytes: 1_000_000,
  volumeUsageEntries: 200_000,
});

/** The bounds in force: the defaults, changed only by `--limit` (setLimit) before any read. */
export const limits: Limits = { ...DEFAULT_LIMITS };

/** Names the analyst changed, so code with its own smarter default (logs' max-size rule) defers. */
export const limitsSet = new Set<keyof Limits>();

/** `--limit` names are kebab-case: metadata-bytes, tar-keep-total-bytes … */
export function limitName(key: keyof Limits): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function keyOf(name: string): keyof Limits | undefined {
  const key = name.trim().replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return Object.prototype.hasOwnProperty.call(DEFAULT_LIMITS, key) ? (key as keyof Limits) : undefined;
}

/** Parses `123`, `64M`, `1.5G`, `512k` (binary multiples); undefined if not a positive whole count. */
export function parseLimitValue(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const mult = { '': 1, k: KiB, m: MiB, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** Applies one `name=value`; returns a problem to show the analyst, or undefined. */
export function setLimit(spec: string): string | undefined {
  const eq = spec.indexOf('=');
  if (eq < 0) return `--limit ${spec}: expected name=value`;
  const key = keyOf(spec.slice(0, eq));
  if (!key) return `--limit ${spec}: unknown limit (known: ${Object.keys(DEFAULT_LIMITS).map((k) => limitName(k as keyof Limits)).join(', ')})`;
  const v = parseLimitValue(spec.slice(eq + 1));
  if (v === undefined) return `--limit ${spec}: not a positive size or count`;
  limits[key] = v;
  limitsSet.add(key);
  return undefined;
}

/** Back to the defaults (tests). */
export function resetLimits(): void {
  Object.assign(limits, DEFAULT_LIMITS);
  limitsSet.clear();
}
