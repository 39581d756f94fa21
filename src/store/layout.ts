import type { Source } from '../source/types.js';
import type { Findings } from './findings.js';
import { readdirOptional, readOptional } from './read.js';

/** What a data root holds, recognised from its top-level entries (FORMATS.md §0). */
export interface LayoutItem {
  /** Stable key, e.g. 'store:overlay2', 'driver:overlay2', 'legacy-graph'. */
  key: string;
  path: string;
  description: string;
}

const DRIVERS = ['overlay2', 'fuse-overlayfs', 'overlay', 'aufs', 'vfs', 'btrfs', 'zfs', 'devicemapper', 'windowsfilter'];

const DRIVER_TEXT: Record<string, string> = {
  overlay2: 'overlay2 graph-driver directory',
  'fuse-overlayfs': 'fuse-overlayfs graph-driver directory (overlay2 layout, aufs-style whiteouts; rootless)',
  overlay: 'overlay (v1) graph-driver directory: image layers in <id>/root, containers in upper/work/merged + lower-id',
  aufs: 'aufs graph-driver directory: diff/<id> branches, layers/<id> parent chains, mnt/<id>',
  vfs: 'vfs graph-driver directory: dir/<id> full copies',
  btrfs: 'btrfs graph-driver directory: subvolumes/<id> snapshots',
  zfs: 'zfs graph-driver directory: layers are zfs datasets; their content needs the pool',
  devicemapper: 'devicemapper graph-driver directory: metadata/<id> lists devices; their content needs the thin-pool device',
  windowsfilter: 'windowsfilter graph-driver directory (Windows)',
};

/** `--userns-remap`: the daemon keeps its real root in `<uid>.<gid>/` (daemon/daemon_unix.go setupRemappedRoot). */
export const REMAP_DIR = /^(\d{1,10})\.(\d{1,10})$/;
/** Rootless dockerd's default data root, `$XDG_DATA_HOME/docker` = `~/.local/share/docker`. */
const ROOTLESS_PATH = /(^|\/)\.local\/share\/docker$/;

const SAMPLE_DIRS = 64;
const SAMPLE_ENTRIES = 64;

/**
 * Rootless overlay2 (kernel ≥ 5.11, `userxattr`) marks opaque dirs, redirects and metacopy with
 * `user.overlay.*` instead of `trusted.overlay.*` (FORMATS.md §5). Bounded sample: the first
 * entries of the first layer dirs; only meaningful where the source can read xattrs.
 */
function userOverlayXattrs(src: Source, home: string, f: Findings): string | undefined {
  if (!src.hasXattrs) return undefined;
  const ids = readdirOptional(src, home, f, 'layout.unreadable').filter((n) => n !== 'l').slice(0, SAMPLE_DIRS);
  const sample: string[] = [];
  for (const id of ids) {
    const diff = `${home}/${id}/diff`;
    sample.push(diff, ...readdirOptional(src, diff, f, 'layout.unreadable').slice(0, SAMPLE_ENTRIES).map((n) => `${diff}/${n}`));
  }
  src.prefetchXattrs?.(sample);
  for (const p of sample) {
    try {
      for (const k of src.xattrs(p).keys()) if (k.startsWith('user.overlay.')) return `${p} (${k})`;
    } catch (e) {
      f.caught(e, 'layout.unreadable', p);
    }
  }
  return undefined;
}

/**
 * `rootPath`: where the data root sits in the evidence, when known: a `<uid>.<gid>` name or a
 * `~/.local/share/docker` path says how the daemon ran.
 */
export function detectLayout(src: Source, f: Findings, rootPath = ''): { items: LayoutItem[]; engineId?: string } {
  const top = new Set(readdirOptional(src, '', f, 'layout.unreadable'));
  const items: LayoutItem[] = [];
  const last = rootPath.split('/').pop() ?? '';
  const remap = REMAP_DIR.exec(last);
  if (remap)
    items.push({
      key: 'userns-remap-root',
      path: '.',
      description: `this is a --userns-remap data root (${last}/ inside the configured one): container root was host uid ${remap[1]}, gid ${remap[2]}; file owners on disk are shifted by that much`,
    });
  if (ROOTLESS_PATH.test(rootPath))
    items.push({ key: 'rootless', path: '.', description: `rootless daemon data root (${rootPath}, i.e. ~/.local/share/docker of a user): owners on disk are that user's subordinate ids` });
  for (const d of readdirOptional(src, 'image', f, 'layout.unreadable'))
    items.push({ key: `store:${d}`, path: `image/${d}`, description: `Docker 1.10+ image store for the ${d} driver` });
  for (const d of DRIVERS) if (top.has(d)) items.push({ key: `driver:${d}`, path: d, description: DRIVER_TEXT[d] ?? `${d} graph-driver directory` });
  for (const d of ['overlay2', 'fuse-overlayfs']) {
    if (!top.has(d)) continue;
    const hit = userOverlayXattrs(src, d, f);
    if (hit) items.push({ key: 'rootless-xattrs', path: d, description: `user.overlay.* xattrs (overlayfs userxattr): written by a rootless daemon; e.g. ${hit}` });
  }
  // --userns-remap: the daemon's real root is `<uid>.<gid>/` inside the configured one.
  for (const n of top) if (REMAP_DIR.test(n)) items.push({ key: 'userns-remap', path: n, description: `--userns-remap data root for ${n} (point --root at it, or at ${n}/ with archive:${n} / dir:${n})` });
  if (top.has('graph')) items.push({ key: 'legacy-graph', path: 'graph', description: 'pre-1.10 v1 graph (Docker 1.9 or older)' });
  for (const n of top) if (n.startsWith('repositories-')) items.push({ key: 'legacy-repositories', path: n, description: 'pre-1.10 tag store' });
  if (top.has('linkgraph.db')) items.push({ key: 'legacy-linkgraph', path: 'linkgraph.db', description: 'pre-1.10 container link graph (SQLite)' });
  if (top.has('.migration-v1-images.json')) items.push({ key: 'migrated-v1', path: '.migration-v1-images.json', description: 'host migrated from 1.9 to 1.10+' });
  if (top.has('rootfs')) items.push({ key: 'containerd-rootfs', path: 'rootfs', description: 'containerd image store mount points' });
  if (top.has('containerd')) items.push({ key: 'containerd-managed', path: 'containerd', description: 'Docker-managed containerd root' });
  if (top.has('volumes')) items.push({ key: 'volumes', path: 'volumes', description: 'volumes (metadata.db and data)' });
  if (top.has('network')) items.push({ key: 'network', path: 'network', description: 'libnetwork store (local-kv.db)' });
  if (top.has('buildkit')) items.push({ key: 'buildkit', path: 'buildkit', description: 'BuildKit cache and history' });
  if (top.has('swarm')) items.push({ key: 'swarm', path: 'swarm', description: 'swarm state' });
  if (top.has('plugins')) items.push({ key: 'plugins', path: 'plugins', description: 'managed plugins' });
  const engineId = readOptional(src, 'engine-id', f, 'layout.unreadable', 4096)?.toString('utf8').trim();
  return { items, engineId };
}
