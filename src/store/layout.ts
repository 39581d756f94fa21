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

export function detectLayout(src: Source, f: Findings): { items: LayoutItem[]; engineId?: string } {
  const top = new Set(readdirOptional(src, '', f, 'layout.unreadable'));
  const items: LayoutItem[] = [];
  for (const d of readdirOptional(src, 'image', f, 'layout.unreadable'))
    items.push({ key: `store:${d}`, path: `image/${d}`, description: `Docker 1.10+ image store for the ${d} driver` });
  for (const d of DRIVERS) if (top.has(d)) items.push({ key: `driver:${d}`, path: d, description: DRIVER_TEXT[d] ?? `${d} graph-driver directory` });
  // --userns-remap: the daemon's real root is `<uid>.<gid>/` inside the configured one.
  for (const n of top) if (/^\d+\.\d+$/.test(n)) items.push({ key: 'userns-remap', path: n, description: `--userns-remap data root for ${n} (point --root at it)` });
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
