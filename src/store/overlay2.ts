import type { Source, Stat } from '../source/types.js';
import type { Deferred, Findings } from './findings.js';
import { parseAufsLayers } from './aufs.js';
import { lstatOptional, prefetch, readdirOptional, readOptional } from './read.js';

/** overlay2 short links: 26 characters of RFC 4648 base32, upper case (overlayutils GenerateID). */
export const LINK_RE = /^[A-Z2-7]{26}$/;

/** One `overlay2/<id>/` directory (FORMATS.md §1.6). */
export interface DriverDir {
  id: string;
  stat?: Stat;
  /** Content of `link`, when it is a valid short link name. */
  link?: string;
  /** `lower` split on ':' (each `l/<link>`), nearest parent first; undefined for a base layer. */
  lower?: string[];
  committed: boolean;
  hasDiff: boolean;
  hasWork: boolean;
  /** `merged/` exists: on 18.09+ the layer was mounted when the evidence was taken. */
  hasMerged: boolean;
  /** Entries other than the driver's known ones. */
  extra: string[];
  /** aufs: `aufs/layers/<id>` ancestors, immediate parent first (undefined when the file is absent). */
  aufsParents?: string[];
  /** aufs: `aufs/mnt/<id>` exists. */
  hasMnt?: boolean;
  /** overlay (v1): `root/` exists (an image layer: a full tree). */
  hasRoot?: boolean;
  /** overlay (v1): `upper/` exists (a container or init layer). */
  hasUpper?: boolean;
  /** overlay (v1): `lower-id`, the layer whose `root/` is the lowerdir. */
  lowerId?: string;
}

export interface ShortLink {
  name: string;
  /** Symlink target as stored (normally `../<id>/diff`). */
  target?: string;
  /** The driver dir id the target names, when it has the expected shape. */
  id?: string;
  stat?: Stat;
}

/** The entries a driver dir is expected to hold, each a bit of OverlayFacts.has. */
const BIT = { diff: 1, link: 2, lower: 4, work: 8, merged: 16, committed: 32 } as const;
const KNOWN: ReadonlyMap<string, number> = new Map(Object.entries(BIT));
const LOWER_RE = /^l\/[A-Z2-7]{26}$/;
const NONE: readonly string[] = Object.freeze([]);

/**
 * What an overlay2 dir holds beyond its existence: read on demand (OverlayDir). The known entries
 * are bits and only other names are kept: `verify` and `info` read every dir of a store, and a Set
 * of the listing's names per dir was some 300 bytes each on a store of 24,000 dirs.
 */
interface OverlayFacts {
  /** KNOWN bits of the entries present. */
  has: number;
  /** Entries other than the known ones, in listing order. */
  extra: readonly string[];
  link?: string;
  lower?: string[];
}
const NO_FACTS: OverlayFacts = { has: 0, extra: NONE };

/**
 * An overlay2 (fuse-overlayfs) driver dir read only when one of its facts (link, lower, committed,
 * diff/, work/, merged/, extras) is asked for: a listing of images or containers needs none of
 * them, and reading them was a getdents and two files per layer. Its findings keep the place they
 * had when every dir was read up front (Findings.defer), so `info` and `verify` list the same.
 */
class OverlayDir implements DriverDir, Deferred {
  private facts?: OverlayFacts;
  constructor(
    readonly id: string,
    readonly stat: Stat,
    private readonly dirs: Overlay2Dirs,
  ) {}

  load(f: Findings): void {
    this.facts = this.dirs.readFacts(this.id, f);
  }

  private get x(): OverlayFacts {
    if (this.facts === undefined) this.dirs.findings.force(this);
    return this.facts ?? NO_FACTS;
  }
  get link(): string | undefined {
    return this.x.link;
  }
  get lower(): string[] | undefined {
    return this.x.lower;
  }
  get committed(): boolean {
    return (this.x.has & BIT.committed) !== 0;
  }
  get hasDiff(): boolean {
    return (this.x.has & BIT.diff) !== 0;
  }
  get hasWork(): boolean {
    return (this.x.has & BIT.work) !== 0;
  }
  get hasMerged(): boolean {
    return (this.x.has & BIT.merged) !== 0;
  }
  get extra(): string[] {
    return [...this.x.extra];
  }
}
const KNOWN_OVERLAY1 = new Set(['root', 'upper', 'work', 'merged', 'lower-id']);
const AUFS_ID = /^[0-9a-f]{64}(-init)?$/;

/**
 * Reads an overlay2 (or fuse-overlayfs) driver directory lazily: a command about one image reads
 * only that image's dirs, while `all()` serves orphan and consistency checks.
 */
export class Overlay2Dirs {
  private readonly dirs = new Map<string, DriverDir | null>();
  private readonly links = new Map<string, ShortLink | null>();
  private readonly names = new Map<string, string>();
  /** Whether `home` (and `home/l`) were offered to Source.prefetch: lookups of their entries follow. */
  private primed = false;
  private linksPrimed = false;

  /**
   * One flat copy of each `lower` entry for all dirs: split() returns slices that each keep the whole
   * file's text alive, and a store of thousands of layers repeats the same names along every chain.
   */
  private intern(s: string): string {
    let v = this.names.get(s);
    if (v === undefined) {
      v = Buffer.from(s, 'utf8').toString('utf8');
      this.names.set(v, v);
    }
    return v;
  }

  constructor(
    private readonly src: Source,
    /** Driver directory relative to the data root, e.g. 'overlay2'. */
    readonly home: string,
    private readonly f: Findings,
    /** overlay2 and fuse-overlayfs share this layout; other drivers' dirs only get the generic reads. */
    private readonly overlayLayout = home === 'overlay2' || home === 'fuse-overlayfs',
  ) {}

  /** The dir for a cache-id or mount-id; undefined when absent. Never reads outside `home`. */
  dir(id: string): DriverDir | undefined {
    const hit = this.dirs.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const d = this.read(id);
    this.dirs.set(id, d ?? null);
    return d;
  }

  private read(id: string): DriverDir | undefined {
    // Ids come from evidence files: refuse anything that is not a single plain path component.
    if (id === '' || id === 'l' || id.includes('/') || id === '.' || id === '..' || id.includes('\0')) return undefined;
    if (this.home === 'aufs') return this.readAufs(id);
    if (this.home === 'overlay') return this.readOverlay1(id);
    if (this.home === 'vfs' || this.home === 'btrfs') return this.readFullCopy(id);
    if (this.home === 'devicemapper') return this.readDevicemapper(id);
    const path = `${this.home}/${id}`;
    if (!this.primed) {
      this.primed = true;
      prefetch(this.src, this.home);
    }
    const stat = lstatOptional(this.src, path, this.f, 'overlay2.unreadable');
    if (!stat || stat.type !== 'dir') {
      if (stat) this.f.add('warn', 'overlay2.not-a-dir', `driver entry is a ${stat.type}, not a directory`, path);
      return undefined;
    }
    const d = new OverlayDir(id, stat, this);
    // Its entries, link and lower are read when asked; their findings keep this place in the list.
    this.f.defer(d);
    return d;
  }

  /** Reads an overlay2 dir's entries, `link` and `lower` (OverlayDir), reporting to `f`. */
  readFacts(id: string, f: Findings): OverlayFacts {
    const path = `${this.home}/${id}`;
    const names = new Set(readdirOptional(this.src, path, f, 'overlay2.unreadable'));
    let has = 0;
    const extra: string[] = [];
    for (const n of names) {
      const bit = KNOWN.get(n);
      if (bit === undefined) extra.push(n);
      else has |= bit;
    }
    const d: OverlayFacts = { has, extra: extra.length ? extra : NONE };
    if (names.has('link')) {
      const link = readOptional(this.src, `${path}/link`, f, 'overlay2.unreadable')?.toString('utf8').trim();
      if (link !== undefined) {
        if (LINK_RE.test(link)) d.link = link;
        else f.add('warn', 'overlay2.bad-link', `link is ${JSON.stringify(link.slice(0, 80))}`, `${path}/link`);
      }
    }
    if (names.has('lower')) {
      const lower = readOptional(this.src, `${path}/lower`, f, 'overlay2.unreadable')?.toString('utf8').trim();
      if (lower !== undefined) {
        // Interned: a chain's l/<link> names repeat in the lower file of every layer above it.
        d.lower = lower === '' ? [] : lower.split(':').map((e) => this.intern(e));
        const bad = d.lower.find((e) => !LOWER_RE.test(e));
        if (bad !== undefined) f.add('warn', 'overlay2.bad-lower', `lower entry ${JSON.stringify(bad.slice(0, 80))} is not l/<link>`, `${path}/lower`);
      }
    }
    if (!names.has('diff') && this.overlayLayout) f.add('warn', 'overlay2.no-diff', 'driver dir has no diff/', path);
    return d;
  }

  /** aufs (FORMATS.md §6): `aufs/diff/<id>/` + `aufs/layers/<id>` (parent chain) + `aufs/mnt/<id>/`. */
  private readAufs(id: string): DriverDir | undefined {
    const diff = lstatOptional(this.src, `aufs/diff/${id}`, this.f, 'aufs.unreadable');
    const layers = lstatOptional(this.src, `aufs/layers/${id}`, this.f, 'aufs.unreadable');
    const mnt = lstatOptional(this.src, `aufs/mnt/${id}`, this.f, 'aufs.unreadable');
    if (!diff && !layers) return undefined;
    const d: DriverDir = { id, stat: diff ?? layers, committed: false, hasDiff: diff?.type === 'dir', hasWork: false, hasMerged: false, extra: [], hasMnt: mnt?.type === 'dir' };
    if (diff && diff.type !== 'dir') this.f.add('warn', 'aufs.not-a-dir', `diff entry is a ${diff.type}, not a directory`, `aufs/diff/${id}`);
    if (!diff) this.f.add('warn', 'aufs.no-diff', 'layer listed in aufs/layers has no aufs/diff dir', `aufs/layers/${id}`);
    if (layers?.type === 'file') {
      const buf = readOptional(this.src, `aufs/layers/${id}`, this.f, 'aufs.unreadable', 1 << 20);
      if (buf) d.aufsParents = parseAufsLayers(buf, `aufs/layers/${id}`, this.f);
    } else if (layers) this.f.add('warn', 'aufs.not-a-file', `layers entry is a ${layers.type}, not a regular file`, `aufs/layers/${id}`);
    else this.f.add('warn', 'aufs.no-layers-entry', 'diff dir without aufs/layers entry', `aufs/diff/${id}`);
    return d;
  }

  /** overlay v1 (FORMATS.md §8): `root/` for image layers; `upper/`, `work/`, `merged/`, `lower-id` otherwise. */
  private readOverlay1(id: string): DriverDir | undefined {
    const path = `overlay/${id}`;
    const stat = lstatOptional(this.src, path, this.f, 'overlay.unreadable');
    if (!stat || stat.type !== 'dir') {
      if (stat) this.f.add('warn', 'overlay.not-a-dir', `driver entry is a ${stat.type}, not a directory`, path);
      return undefined;
    }
    const names = new Set(readdirOptional(this.src, path, this.f, 'overlay.unreadable'));
    const d: DriverDir = {
      id,
      stat,
      committed: false,
      hasRoot: names.has('root'),
      hasUpper: names.has('upper'),
      hasDiff: names.has('root') || names.has('upper'),
      hasWork: names.has('work'),
      hasMerged: names.has('merged'),
      extra: [...names].filter((n) => !KNOWN_OVERLAY1.has(n)),
    };
    if (names.has('lower-id')) {
      const lower = readOptional(this.src, `${path}/lower-id`, this.f, 'overlay.unreadable', 4096)?.toString('utf8').trim();
      if (lower !== undefined) {
        if (AUFS_ID.test(lower)) d.lowerId = lower;
        else this.f.add('warn', 'overlay.bad-lower-id', `lower-id is ${JSON.stringify(lower.slice(0, 80))}`, `${path}/lower-id`);
      }
    }
    if (!d.hasRoot && !d.hasUpper) this.f.add('warn', 'overlay.no-content', 'driver dir has neither root/ nor upper/', path);
    if (d.hasUpper && !d.lowerId && !names.has('lower-id')) this.f.add('info', 'overlay.no-lower-id', 'upper/ without lower-id: a layer created with no parent', path);
    return d;
  }

  /**
   * devicemapper (FORMATS.md §8): a layer is a thin device; the data root only holds its
   * `metadata/<id>` file (and `mnt/<id>/`, a mount point). `hasDiff` stays false: no files here.
   */
  private readDevicemapper(id: string): DriverDir | undefined {
    const stat = lstatOptional(this.src, `devicemapper/metadata/${id}`, this.f, 'devicemapper.unreadable');
    if (!stat) return undefined;
    const mnt = lstatOptional(this.src, `devicemapper/mnt/${id}`, this.f, 'devicemapper.unreadable');
    return { id, stat, committed: false, hasDiff: false, hasWork: false, hasMerged: mnt?.type === 'dir', extra: [] };
  }

  /** vfs `vfs/dir/<id>/`, btrfs `btrfs/subvolumes/<id>/` (FORMATS.md §8): one full tree per layer. */
  private readFullCopy(id: string): DriverDir | undefined {
    const path = `${this.home}/${this.home === 'vfs' ? 'dir' : 'subvolumes'}/${id}`;
    const stat = lstatOptional(this.src, path, this.f, `${this.home}.unreadable`);
    if (!stat || stat.type !== 'dir') {
      if (stat) this.f.add('warn', `${this.home}.not-a-dir`, `layer entry is a ${stat.type}, not a directory`, path);
      return undefined;
    }
    return { id, stat, committed: false, hasDiff: true, hasWork: false, hasMerged: false, extra: [] };
  }

  /** Where this store's findings go (OverlayDir forces its deferred read through it). */
  get findings(): Findings {
    return this.f;
  }

  /** Resolves an `l/` entry; the first resolution of a name reports to `f`. */
  shortLink(name: string, f: Findings = this.f): ShortLink | undefined {
    const hit = this.links.get(name);
    if (hit !== undefined) return hit ?? undefined;
    let out: ShortLink | undefined;
    if (LINK_RE.test(name)) {
      const path = `${this.home}/l/${name}`;
      if (!this.linksPrimed) {
        this.linksPrimed = true;
        prefetch(this.src, `${this.home}/l`);
      }
      const stat = lstatOptional(this.src, path, f, 'overlay2.unreadable');
      if (stat) {
        out = { name, stat };
        if (stat.type === 'symlink') {
          out.target = stat.linkTarget;
          const m = /^\.\.\/([^/]+)\/diff\/?$/.exec(stat.linkTarget ?? '');
          if (m && m[1] !== '..' && m[1] !== '.') out.id = m[1];
          else f.add('warn', 'overlay2.odd-short-link', `points at ${JSON.stringify(stat.linkTarget?.slice(0, 120))}, not ../<id>/diff`, path);
        } else {
          f.add('warn', 'overlay2.odd-short-link', `is a ${stat.type}, not a symlink`, path);
        }
      }
    }
    this.links.set(name, out ?? null);
    return out;
  }

  /** Every short link name under `l/`. */
  linkNames(): string[] {
    if (!this.overlayLayout) return [];
    return readdirOptional(this.src, `${this.home}/l`, this.f, 'overlay2.unreadable');
  }

  /** Every driver dir id (everything in `home` except `l`; aufs: `aufs/diff` and `aufs/layers`). */
  ids(): string[] {
    if (this.home === 'aufs') {
      const all = new Set([...readdirOptional(this.src, 'aufs/diff', this.f, 'aufs.unreadable'), ...readdirOptional(this.src, 'aufs/layers', this.f, 'aufs.unreadable')]);
      return [...all];
    }
    if (this.home === 'vfs' || this.home === 'btrfs') return readdirOptional(this.src, `${this.home}/${this.home === 'vfs' ? 'dir' : 'subvolumes'}`, this.f, `${this.home}.unreadable`);
    return readdirOptional(this.src, this.home, this.f, 'overlay2.unreadable').filter((n) => n !== 'l');
  }
}
