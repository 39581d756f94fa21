import type { Model } from '../model/graph.js';
import { loadDevicemapper, type DmDevice } from '../store/devicemapper.js';
import { Findings } from '../store/findings.js';
import { readdirOptional } from '../store/read.js';

/**
 * Drivers whose layer content is not in the data root (FORMATS.md §8): what their metadata in the
 * data root says, each device or dataset tied to the layer or container that owns it, and a plain
 * statement of what else is needed to read the files.
 */
export interface DriverStorage {
  driver: 'devicemapper' | 'zfs';
  /** What reading the content needs. */
  note: string;
  devices?: (DmDevice & { owner: string })[];
  devicemapper?: Omit<ReturnType<typeof loadDevicemapper> & object, 'devices'>;
  datasets?: { cacheID: string; owner: string; mountedDir: boolean }[];
}

function owners(model: Model): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of model.layers.values()) if (n.record?.cacheID) out.set(n.record.cacheID, `layer ${n.chainID}`);
  for (const c of model.containers.values()) {
    const name = c.record.name.replace(/^\//, '') || c.id.slice(0, 12);
    if (c.mount?.mountID) out.set(c.mount.mountID, `container ${name} (RW)`);
    if (c.mount?.initID) out.set(c.mount.initID, `container ${name} (init)`);
  }
  return out;
}

export function driverStorage(model: Model, f: Findings = new Findings()): DriverStorage[] {
  const out: DriverStorage[] = [];
  const own = owners(model);
  const dm = loadDevicemapper(model.src, f);
  if (dm) {
    const { devices, ...rest } = dm;
    out.push({
      driver: 'devicemapper',
      note: `layer files are in thin devices of the pool, not in the data root: reading them needs the pool (${dm.loopback.length ? 'the loopback files devicemapper/devicemapper/{data,metadata} activated as a thin-pool' : 'the direct-lvm block devices, not part of this evidence'})`,
      devices: devices.map((d) => ({ ...d, owner: d.id === 'base' ? 'base device' : (own.get(d.id) ?? 'nothing in the image store (orphan or removed)') })),
      devicemapper: rest,
    });
  }
  if (model.stores.some((s) => s.driver === 'zfs') || model.src.lstat('zfs')?.type === 'dir') {
    const mounted = new Set(readdirOptional(model.src, 'zfs/graph', f, 'zfs.unreadable'));
    const ids = new Set<string>();
    for (const n of model.layers.values()) if (n.store.driver === 'zfs' && n.record?.cacheID) ids.add(n.record.cacheID);
    for (const c of model.containers.values())
      if (c.record.driver === 'zfs') for (const id of [c.mount?.mountID, c.mount?.initID]) if (id) ids.add(id);
    out.push({
      driver: 'zfs',
      note: 'each layer is a zfs dataset <parent dataset>/<cache-id> (cloned from its parent\'s snapshot); the files are in the pool, not the data root: import the pool read-only to read them. zfs/graph/<id> is only a mount point, filled while the layer was in use',
      datasets: [...ids].sort().map((id) => ({ cacheID: id, owner: own.get(id) ?? '?', mountedDir: mounted.has(id) })),
    });
  }
  return out;
}
