import type { Source, Stat } from '../source/types.js';
import type { Findings } from './findings.js';
import { lstatOptional, readdirOptional, readOptional } from './read.js';

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
  /** Entries other than diff/link/lower/work/merged/committed. */
  extra: string[];
}

export interface ShortLink {
  name: string;
  /** Symlink target as stored (normally `../<id>/diff`). */
  target?: string;
  /** The driver dir id the target names, when it has the expected shape. */
  id?: string;
  stat?: Stat;
}

const KNOWN = new Set(['diff', 'link', 'lower', 'work', 'merged', 'committed']);

/**
 * Reads an overlay2 (or fuse-overlayfs) driver directory lazily: a command about one image reads
 * only that image's dirs, while `all()` serves orphan and consistency checks.
 */
export class Overlay2Dirs {
  private readonly dirs = new Map<string, DriverDir | null>();
  private readonly links = new Map<string, ShortLink | null>();

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
    const path = `${this.home}/${id}`;
    const stat = lstatOptional(this.src, path, this.f, 'overlay2.unreadable');
    if (!stat || stat.type !== 'dir') {
      if (stat) this.f.add('warn', 'overlay2.not-a-dir', `driver entry is a ${stat.type}, not a directory`, path);
      return undefined;
    }
    const names = new Set(readdirOptional(this.src, path, this.f, 'overlay2.unreadable'));
    const d: DriverDir = {
      id,
      stat,
      committed: names.has('committed'),
      hasDiff: names.has('diff'),
      hasWork: names.has('work'),
      hasMerged: names.has('merged'),
      extra: [...names].filter((n) => !KNOWN.has(n)),
    };
    if (names.has('link')) {
      const link = readOptional(this.src, `${path}/link`, this.f, 'overlay2.unreadable')?.toString('utf8').trim();
      if (link !== undefined) {
        if (LINK_RE.test(link)) d.link = link;
        else this.f.add('warn', 'overlay2.bad-link', `link is ${JSON.stringify(link.slice(0, 80))}`, `${path}/link`);
      }
    }
    if (names.has('lower')) {
      const lower = readOptional(this.src, `${path}/lower`, this.f, 'overlay2.unreadable')?.toString('utf8').trim();
      if (lower !== undefined) {
        d.lower = lower === '' ? [] : lower.split(':');
        const bad = d.lower.find((e) => !/^l\/[A-Z2-7]{26}$/.test(e));
        if (bad !== undefined) this.f.add('warn', 'overlay2.bad-lower', `lower entry ${JSON.stringify(bad.slice(0, 80))} is not l/<link>`, `${path}/lower`);
      }
    }
    if (!d.hasDiff && this.overlayLayout) this.f.add('warn', 'overlay2.no-diff', 'driver dir has no diff/', path);
    return d;
  }

  /** Resolves an `l/` entry. */
  shortLink(name: string): ShortLink | undefined {
    const hit = this.links.get(name);
    if (hit !== undefined) return hit ?? undefined;
    let out: ShortLink | undefined;
    if (LINK_RE.test(name)) {
      const path = `${this.home}/l/${name}`;
      const stat = lstatOptional(this.src, path, this.f, 'overlay2.unreadable');
      if (stat) {
        out = { name, stat };
        if (stat.type === 'symlink') {
          out.target = stat.linkTarget;
          const m = /^\.\.\/([^/]+)\/diff\/?$/.exec(stat.linkTarget ?? '');
          if (m && m[1] !== '..' && m[1] !== '.') out.id = m[1];
          else this.f.add('warn', 'overlay2.odd-short-link', `points at ${JSON.stringify(stat.linkTarget?.slice(0, 120))}, not ../<id>/diff`, path);
        } else {
          this.f.add('warn', 'overlay2.odd-short-link', `is a ${stat.type}, not a symlink`, path);
        }
      }
    }
    this.links.set(name, out ?? null);
    return out;
  }

  /** Every short link name under `l/`. */
  linkNames(): string[] {
    return readdirOptional(this.src, `${this.home}/l`, this.f, 'overlay2.unreadable');
  }

  /** Every driver dir id (everything in `home` except `l`). */
  ids(): string[] {
    return readdirOptional(this.src, this.home, this.f, 'overlay2.unreadable').filter((n) => n !== 'l');
  }
}
