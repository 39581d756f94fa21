import type { ContainerNode, Model } from '../model/graph.js';
import type { DriverDir } from '../store/overlay2.js';
import { mountReportContainerd, type SnapshotView } from './containerd.js';
import type { PathMap } from './paths.js';

export interface StackEntry {
  role: 'upper' | 'init' | 'image';
  /** Driver dir id. */
  id: string;
  diff: string;
  link?: string;
  present: boolean;
  /** For image layers. */
  chainID?: string;
  diffID?: string;
  /** Position in the image rootfs, base = 0. */
  index?: number;
  /** containerd: the snapshot (`id` is then its key, `diff` its fs dir). */
  snapshot?: SnapshotView;
  /** containerd: an init snapshot of a classic-builder step, part of the image's chain. */
  buildStep?: boolean;
}

export interface MountReport {
  driver: string;
  /** The image store the container's layers are in. */
  store?: string;
  stack: StackEntry[];
  work?: string;
  merged?: string;
  mergedPresent: boolean;
  /** The `lower` file of the RW dir, resolved through l/ (what Docker actually mounted). */
  lowerFromDisk: { entry: string; id?: string; diff?: string }[];
  /** Mismatches between the lower file and the chain the model expects. */
  problems: string[];
  dockerMount?: string;
  readOnlyMount?: string;
  volumes: { type: string; name: string; source: string; destination: string; rw: boolean; evidencePath?: string }[];
}

/**
 * The layer stack of a container, top to bottom: RW layer, init layer, image layers; checked
 * against the `lower` file Docker wrote, with the mount lines an analyst can run on a copy.
 */
export function mountReport(model: Model, c: ContainerNode, paths: PathMap): MountReport {
  if (c.store?.kind === 'containerd' && c.snapshots) return { ...mountReportContainerd(model, c, paths), volumes: volumesOf(c, paths) };
  const driver = c.record.driver;
  const store = (c.store?.kind === 'graphdriver' ? c.store : undefined) ?? model.stores.find((s) => s.driver === driver) ?? model.stores[0];
  const home = store?.dirs.home ?? driver;
  if (driver === 'aufs' || driver === 'overlay') return { ...mountReportLegacyDriver(model, c, paths, driver, home, store?.name), volumes: volumesOf(c, paths) };
  const diffOf = (id: string) => paths.abs(`${home}/${id}/diff`);
  const { stack, problems } = layerStack(model, c, { path: diffOf, present: (dir) => dir !== undefined, links: true });

  const lowerFromDisk = (c.rw?.lower ?? []).map((e) => {
    const link = store?.dirs.shortLink(e.replace(/^l\//, ''));
    return { entry: e, id: link?.id, diff: link?.id ? diffOf(link.id) : undefined };
  });
  const expected = stack.filter((s) => s.role !== 'upper').map((s) => s.id);
  if (c.rw && c.rw.lower) {
    const actual = lowerFromDisk.map((l) => l.id ?? `?${l.entry}`);
    if (actual.join(':') !== expected.join(':'))
      problems.push(`lower file lists ${actual.length} dirs that differ from the expected init + image chain (${expected.length})`);
  }
  const upper = stack.find((s) => s.role === 'upper');
  const lowers = lowerFromDisk.length ? lowerFromDisk.map((l) => l.diff ?? paths.abs(`${home}/${l.entry}`)) : stack.filter((s) => s.role !== 'upper').map((s) => s.diff);
  const work = c.mount?.mountID ? paths.abs(`${home}/${c.mount.mountID}/work`) : undefined;
  const merged = c.mount?.mountID ? paths.abs(`${home}/${c.mount.mountID}/merged`) : undefined;
  const dockerMount =
    upper && work && merged && lowers.length
      ? `mount -t overlay overlay -o ${q(`lowerdir=${lowers.join(':')},upperdir=${upper.diff},workdir=${work}`)} ${q(merged)}`
      : undefined;
  const readOnlyMount = upper
    ? `mount -t overlay overlay -o ${q(`ro,lowerdir=${[upper.diff, ...lowers].join(':')}`)} ${q(`/mnt/${c.id.slice(0, 12)}`)}`
    : undefined;
  return {
    driver,
    store: store?.name,
    stack,
    work,
    merged,
    mergedPresent: c.rw?.hasMerged === true,
    lowerFromDisk,
    problems,
    dockerMount,
    readOnlyMount,
    volumes: volumesOf(c, paths),
  };
}

const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * The container's layers top to bottom as the model expects them: RW (`mount-id`), init
 * (`init-id`), then the image chain from the mount's parent. Every graph driver shares this walk;
 * only where a layer's files are (`path`) and what counts as present differ.
 */
function layerStack(
  model: Model,
  c: ContainerNode,
  how: { path: (id: string, role: StackEntry['role']) => string; present: (dir: DriverDir | undefined) => boolean; links: boolean },
): { stack: StackEntry[]; problems: string[] } {
  const stack: StackEntry[] = [];
  const problems: string[] = [];
  const push = (role: StackEntry['role'], id: string, dir: DriverDir | undefined, extra: Partial<StackEntry> = {}) =>
    stack.push({ role, id, diff: how.path(id, role), ...(how.links ? { link: dir?.link } : {}), present: how.present(dir), ...extra });
  if (c.mount?.mountID) push('upper', c.mount.mountID, c.rw);
  if (c.mount?.initID) push('init', c.mount.initID, c.init);
  const imageChain = c.mount?.parent ? model.parentChain(c.mount.parent) : { chain: [] };
  if ('problem' in imageChain && imageChain.problem) problems.push(imageChain.problem);
  const n = imageChain.chain.length;
  imageChain.chain.forEach((layer, i) => {
    const id = layer.record?.cacheID;
    if (id) push('image', id, layer.dir, { chainID: layer.chainID, diffID: layer.record?.diffID, index: n - 1 - i });
  });
  if (!c.mount) problems.push('no layerdb/mounts entry for this container');
  return { stack, problems };
}

/**
 * aufs and overlay (v1). aufs: every layer is a branch `aufs/diff/<id>`, the RW one on top, and
 * `aufs/layers/<mount-id>` lists the branches below as Docker stacked them. overlay v1: one lowerdir,
 * `overlay/<lower-id>/root` (the image top layer's full tree); the init layer was copied into the
 * container's `upper/` at creation, so it is shown but not mounted.
 */
function mountReportLegacyDriver(model: Model, c: ContainerNode, paths: PathMap, driver: 'aufs' | 'overlay', home: string, storeName: string | undefined): Omit<MountReport, 'volumes'> {
  const aufs = driver === 'aufs';
  const layerPath = (id: string, role: StackEntry['role']) => paths.abs(aufs ? `aufs/diff/${id}` : `overlay/${id}/${role === 'image' ? 'root' : 'upper'}`);
  const { stack, problems } = layerStack(model, c, { path: layerPath, present: (dir) => dir?.hasDiff === true, links: false });
  const upper = stack.find((s) => s.role === 'upper');
  const expected = stack.filter((s) => s.role !== 'upper').map((s) => s.id);
  let lowerFromDisk: MountReport['lowerFromDisk'] = [];
  let dockerMount: string | undefined;
  let readOnlyMount: string | undefined;
  let work: string | undefined;
  let merged: string | undefined;
  const mergedPresent = false;
  if (aufs) {
    if (c.rw?.aufsParents) {
      lowerFromDisk = c.rw.aufsParents.map((id) => ({ entry: id, id, diff: paths.abs(`aufs/diff/${id}`) }));
      if (c.rw.aufsParents.join(':') !== expected.join(':'))
        problems.push(`aufs/layers/${c.rw.id} lists ${c.rw.aufsParents.length} branches that differ from the expected init + image chain (${expected.length})`);
    } else if (c.rw) problems.push(`aufs/layers/${c.rw.id} is missing or unreadable`);
    const lowers = lowerFromDisk.length ? lowerFromDisk.map((l) => l.diff!) : stack.filter((s) => s.role !== 'upper').map((s) => s.diff);
    if (upper) {
      merged = paths.abs(`aufs/mnt/${upper.id}`);
      // aufs/mnt/<id> is created with the layer; its presence says nothing about a mount.
      // aufs.go mount(): br:<rw>=rw, then each parent =ro+wh; dio,xino=/dev/shm/aufs.xino.
      dockerMount = `mount -t aufs -o ${q(`br=${[`${upper.diff}=rw`, ...lowers.map((l) => `${l}=ro+wh`)].join(':')},dio,xino=/dev/shm/aufs.xino`)} none ${q(merged)}`;
      readOnlyMount = `mount -t aufs -o ${q(`ro,br=${[upper.diff, ...lowers].map((l) => `${l}=ro+wh`).join(':')}`)} none ${q(`/mnt/${c.id.slice(0, 12)}`)}`;
    }
  } else {
    const top = expected.length ? stack.find((s) => s.role === 'image') : undefined;
    if (c.rw?.lowerId) {
      lowerFromDisk = [{ entry: c.rw.lowerId, id: c.rw.lowerId, diff: paths.abs(`overlay/${c.rw.lowerId}/root`) }];
      if (top && top.id !== c.rw.lowerId) problems.push(`lower-id ${c.rw.lowerId} is not the image top layer's cache-id ${top.id}`);
      if (!model.stores.find((s) => s.driver === 'overlay')?.dirs.dir(c.rw.lowerId)?.hasRoot) problems.push(`overlay/${c.rw.lowerId}/root is missing`);
    } else if (c.rw) problems.push(`overlay/${c.rw.id}/lower-id is missing or unreadable`);
    const lower = lowerFromDisk[0]?.diff ?? top?.diff;
    if (upper) {
      work = paths.abs(`overlay/${upper.id}/work`);
      merged = paths.abs(`overlay/${upper.id}/merged`);
      // overlay v1 creates merged/ with the layer: its presence says nothing about a mount.
      if (lower) {
        dockerMount = `mount -t overlay overlay -o ${q(`lowerdir=${lower},upperdir=${upper.diff},workdir=${work}`)} ${q(merged)}`;
        readOnlyMount = `mount -t overlay overlay -o ${q(`ro,lowerdir=${upper.diff}:${lower}`)} ${q(`/mnt/${c.id.slice(0, 12)}`)}`;
      }
    }
  }
  return { driver, store: storeName ?? home, stack, work, merged, mergedPresent, lowerFromDisk, problems, dockerMount, readOnlyMount };
}

/** Volumes and binds of a container, with where a local volume's data lies in the evidence. */
function volumesOf(c: ContainerNode, paths: PathMap): MountReport['volumes'] {
  return c.record.mountPoints
    .map((m) => {
      let evidencePath: string | undefined;
      if (m.Type === 'volume' && (m.Driver === 'local' || m.Driver === '') && m.Name && !m.Name.includes('/')) evidencePath = paths.abs(`volumes/${m.Name}/_data`);
      return { type: m.Type, name: m.Name, source: m.Source, destination: m.Destination, rw: m.RW, evidencePath };
    })
    .sort((a, b) => a.destination.localeCompare(b.destination));
}
