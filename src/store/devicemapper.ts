import type { Source } from '../source/types.js';
import type { Findings } from './findings.js';
import { bool, isObject, lstatOptional, num, parseJson, readdirOptional, readOptional, str } from './read.js';

/**
 * devicemapper driver metadata (FORMATS.md §8; `moby@v20.10.0:daemon/graphdriver/devmapper/deviceset.go`).
 * Only the bookkeeping lives in the data root: `devicemapper/metadata/<id>` per device (JSON
 * `devInfo`), `metadata/deviceset-metadata`, `metadata/transaction-metadata`, and for loopback
 * setups the sparse files `devicemapper/devicemapper/{data,metadata}`. The layer *files* are in
 * thin devices inside the pool; reading them needs the pool (the loopback data file, or the
 * block device of a direct-lvm setup).
 */
export interface DmDevice {
  /** File name under metadata/: a layer or container id, or `base` for the base device. */
  id: string;
  deviceId?: number;
  size?: number;
  transactionId?: number;
  initialized?: boolean;
  deleted?: boolean;
}

export interface DmMetadata {
  devices: DmDevice[];
  /** `deviceset-metadata`: next_device_id, BaseDeviceUUID, BaseDeviceFilesystem. */
  deviceset?: { nextDeviceId?: number; baseDeviceUUID?: string; baseDeviceFilesystem?: string };
  /** `transaction-metadata`: an open transaction left by a crash when open_transaction_id ≠ the pool's. */
  transaction?: { openTransactionId?: number; deviceHash?: string; deviceId?: number };
  /** Loopback pool files present in the evidence, with their (apparent) sizes. */
  loopback: { name: string; size: number }[];
  /** Devices whose metadata did not parse, or more than the bound. */
  skipped: number;
}

const MAX_DEVICES = 100_000;

export function parseDmDevice(buf: Buffer, id: string, path: string, f: Findings): DmDevice | undefined {
  const doc = parseJson(buf, path, f, 'devicemapper.bad-metadata');
  if (!isObject(doc)) {
    if (doc !== undefined) f.add('warn', 'devicemapper.bad-metadata', 'device metadata is not an object', path);
    return undefined;
  }
  return { id, deviceId: num(doc.device_id), size: num(doc.size), transactionId: num(doc.transaction_id), initialized: bool(doc.initialized), deleted: bool(doc.deleted) };
}

export function loadDevicemapper(src: Source, f: Findings): DmMetadata | undefined {
  if (lstatOptional(src, 'devicemapper', f, 'devicemapper.unreadable')?.type !== 'dir') return undefined;
  const out: DmMetadata = { devices: [], loopback: [], skipped: 0 };
  const names = readdirOptional(src, 'devicemapper/metadata', f, 'devicemapper.unreadable');
  for (const name of names) {
    const path = `devicemapper/metadata/${name}`;
    if (name === 'deviceset-metadata') {
      const doc = parseJsonFile(src, path, f);
      if (isObject(doc)) out.deviceset = { nextDeviceId: num(doc.next_device_id), baseDeviceUUID: str(doc.BaseDeviceUUID), baseDeviceFilesystem: str(doc.BaseDeviceFilesystem) };
      continue;
    }
    if (name === 'transaction-metadata') {
      const doc = parseJsonFile(src, path, f);
      if (isObject(doc)) out.transaction = { openTransactionId: num(doc.open_transaction_id), deviceHash: str(doc.device_hash), deviceId: num(doc.device_id) };
      continue;
    }
    if (name.startsWith('.')) continue; // deviceset.go writes through a temp file then renames.
    if (out.devices.length >= MAX_DEVICES) {
      out.skipped++;
      continue;
    }
    const buf = readOptional(src, path, f, 'devicemapper.unreadable', 64 * 1024);
    const d = buf ? parseDmDevice(buf, name, path, f) : undefined;
    if (d) out.devices.push(d);
    else out.skipped++;
  }
  if (out.skipped > 0 && out.devices.length >= MAX_DEVICES) f.add('warn', 'devicemapper.too-many', `more than ${MAX_DEVICES} device files; the rest not read`, 'devicemapper/metadata');
  for (const n of ['data', 'metadata']) {
    const st = lstatOptional(src, `devicemapper/devicemapper/${n}`, f, 'devicemapper.unreadable');
    if (st?.type === 'file') out.loopback.push({ name: `devicemapper/devicemapper/${n}`, size: st.size });
  }
  out.devices.sort((a, b) => (a.id === 'base' ? -1 : b.id === 'base' ? 1 : (a.deviceId ?? 0) - (b.deviceId ?? 0)));
  return out;
}

function parseJsonFile(src: Source, path: string, f: Findings): unknown {
  const buf = readOptional(src, path, f, 'devicemapper.unreadable', 64 * 1024);
  return buf ? parseJson(buf, path, f, 'devicemapper.bad-metadata') : undefined;
}
