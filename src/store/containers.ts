import type { Source, Stat } from '../source/types.js';
import { HEX64 } from './digest.js';
import type { Findings } from './findings.js';
import { isObject, lstatOptional, num, parseJson, prefetch, readdirOptional, readOptional, str, strArray } from './read.js';

export interface ContainerState {
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  RemovalInProgress: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: unknown;
}

export interface MountPoint {
  Source: string;
  Destination: string;
  RW: boolean;
  Name: string;
  Driver: string;
  Type: string;
  Mode: string;
  Propagation: string;
  raw: Record<string, unknown>;
}

/** `containers/<id>/config.v2.json` + `hostconfig.json` (FORMATS.md §2). */
export interface ContainerRecord {
  /** Directory name. */
  dirId: string;
  /** `ID` field; Docker refuses a dir whose ID differs from its name. */
  id: string;
  raw: Record<string, unknown>;
  name: string;
  created?: string;
  path: string;
  args: string[];
  image: string;
  driver: string;
  logPath: string;
  restartCount: number;
  state: ContainerState;
  config: Record<string, unknown>;
  mountPoints: MountPoint[];
  hostConfig?: Record<string, unknown>;
  /** Files in the container dir (logs, hosts, resolv.conf …). */
  files: string[];
  /** Read from a pre-1.10 config.json. */
  legacyConfig?: boolean;
  dirStat?: Stat;
  configStat?: Stat;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function parseState(v: unknown): ContainerState {
  const s = isObject(v) ? v : {};
  const b = (k: string) => s[k] === true;
  return {
    Running: b('Running'),
    Paused: b('Paused'),
    Restarting: b('Restarting'),
    OOMKilled: b('OOMKilled'),
    RemovalInProgress: b('RemovalInProgress'),
    Dead: b('Dead'),
    Pid: num(s.Pid) ?? 0,
    ExitCode: num(s.ExitCode) ?? 0,
    Error: str(s.Error) ?? '',
    StartedAt: str(s.StartedAt) ?? ZERO_TIME,
    FinishedAt: str(s.FinishedAt) ?? ZERO_TIME,
    Health: isObject(s.Health) ? s.Health : undefined,
  };
}

function parseMountPoints(v: unknown, path: string, f: Findings): MountPoint[] {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) {
    f.add('warn', 'container.bad-mounts', 'MountPoints is not an object', path);
    return [];
  }
  const out: MountPoint[] = [];
  for (const [dest, m] of Object.entries(v)) {
    if (!isObject(m)) {
      f.add('warn', 'container.bad-mounts', `mount point ${JSON.stringify(dest)} is not an object`, path);
      continue;
    }
    out.push({
      Source: str(m.Source) ?? '',
      Destination: str(m.Destination) ?? dest,
      RW: m.RW === true,
      Name: str(m.Name) ?? '',
      Driver: str(m.Driver) ?? '',
      Type: str(m.Type) ?? '',
      Mode: str(m.Relabel) ?? str(m.Mode) ?? '',
      Propagation: str(m.Propagation) ?? '',
      raw: m,
    });
  }
  return out;
}

export function parseContainerConfig(buf: Buffer, dirId: string, path: string, f: Findings): Omit<ContainerRecord, 'files'> | undefined {
  const doc = parseJson(buf, path, f, 'container.bad-json');
  if (doc === undefined) return undefined;
  if (!isObject(doc)) {
    f.add('error', 'container.bad-shape', 'config.v2.json is not a JSON object', path);
    return undefined;
  }
  const id = str(doc.ID) ?? '';
  if (id !== dirId) f.add('warn', 'container.id-mismatch', `ID ${JSON.stringify(id.slice(0, 80))} differs from its directory; Docker would refuse it`, path);
  return {
    dirId,
    id: dirId,
    raw: doc,
    name: str(doc.Name) ?? '',
    created: str(doc.Created),
    path: str(doc.Path) ?? '',
    args: strArray(doc.Args) ?? [],
    image: str(doc.Image) ?? '',
    driver: str(doc.Driver) ?? '',
    logPath: str(doc.LogPath) ?? '',
    restartCount: num(doc.RestartCount) ?? 0,
    state: parseState(doc.State),
    config: isObject(doc.Config) ? doc.Config : {},
    mountPoints: parseMountPoints(doc.MountPoints, path, f),
  };
}

export function loadContainer(src: Source, dirId: string, f: Findings): ContainerRecord | undefined {
  const dir = `containers/${dirId}`;
  prefetch(src, dir);
  let path = `${dir}/config.v2.json`;
  let buf = readOptional(src, path, f, 'container.unreadable');
  // Pre-1.10 engines wrote config.json (same shape; Image is a bare v1 ID), and 1.10 migrated it.
  if (!buf) {
    path = `${dir}/config.json`;
    buf = readOptional(src, path, f, 'container.unreadable');
  }
  if (!buf) {
    f.add('warn', 'container.no-config', 'container directory without config.v2.json or config.json', dir);
    return undefined;
  }
  const c = parseContainerConfig(buf, dirId, path, f);
  if (!c) return undefined;
  const hpath = `${dir}/hostconfig.json`;
  const hbuf = readOptional(src, hpath, f, 'container.unreadable');
  let hostConfig: Record<string, unknown> | undefined;
  if (hbuf) {
    const h = parseJson(hbuf, hpath, f, 'container.bad-hostconfig');
    if (isObject(h)) hostConfig = h;
    else if (h !== undefined) f.add('error', 'container.bad-hostconfig', 'hostconfig.json is not a JSON object', hpath);
  }
  return {
    ...c,
    legacyConfig: path.endsWith('/config.json'),
    hostConfig,
    files: readdirOptional(src, dir, f, 'container.unreadable'),
    dirStat: lstatOptional(src, dir, f, 'container.unreadable'),
    configStat: lstatOptional(src, path, f, 'container.unreadable'),
  };
}

/** Every `containers/<64hex>/` with a readable config. */
export function loadContainers(src: Source, f: Findings): ContainerRecord[] {
  const out: ContainerRecord[] = [];
  for (const name of readdirOptional(src, 'containers', f, 'container.unreadable')) {
    if (!HEX64.test(name)) {
      f.add('info', 'container.stray', `unexpected entry ${JSON.stringify(name)}`, `containers/${name}`);
      continue;
    }
    const c = loadContainer(src, name, f);
    if (c) out.push(c);
  }
  return out;
}
