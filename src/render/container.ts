import type { ChalkInstance } from 'chalk';
import type { inspectContainer } from '../analysis/inspect.js';
import type { MountReport } from '../analysis/mounts.js';
import { escapeText as e, jsonText } from './escape.js';
import { fields, table } from './table.js';

type Inspect = ReturnType<typeof inspectContainer>;

/** Host-config keys an analyst checks first (escape to host, persistence, exposure). */
const SECURITY_KEYS = [
  'Privileged', 'CapAdd', 'CapDrop', 'SecurityOpt', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode',
  'NetworkMode', 'Devices', 'ReadonlyRootfs', 'RestartPolicy', 'PortBindings', 'Binds', 'Mounts', 'Runtime', 'AutoRemove', 'LogConfig',
];

/** Values Docker fills in by default: not worth an analyst's attention. */
const DEFAULTS: Record<string, (v: unknown) => boolean> = {
  IpcMode: (v) => v === 'private' || v === 'shareable',
  CgroupnsMode: (v) => v === 'host' || v === 'private',
  NetworkMode: (v) => v === 'default' || v === 'bridge',
  RestartPolicy: (v) => typeof v === 'object' && v !== null && ((v as { Name?: unknown }).Name === 'no' || (v as { Name?: unknown }).Name === ''),
  Runtime: (v) => v === 'runc',
  LogConfig: (v) => typeof v === 'object' && v !== null && (v as { Type?: unknown }).Type === 'json-file' && Object.keys((v as { Config?: object }).Config ?? {}).length === 0,
};

/** An evidence value as text: strings as they are, anything else as JSON (String() of a deep array overflows the stack). */
const text = (v: unknown): string => (typeof v === 'string' ? v : (jsonText(v) ?? String(v)));

function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

export function containerText(i: Inspect, m: MountReport, s: ChalkInstance): string {
  const cfg = i.Config as Record<string, unknown>;
  const out: string[] = [s.bold(`Container ${e(i.Id)}`)];
  out.push(
    fields([
      ['Name', i.Name],
      ['State', i.State.Status as string],
      ['Created', i.Created],
      ['Started', (i.State.StartedAt as string).startsWith('0001-') ? undefined : (i.State.StartedAt as string)],
      ['Finished', (i.State.FinishedAt as string).startsWith('0001-') ? undefined : (i.State.FinishedAt as string)],
      ['Exit code', i.State.Status === 'exited' ? (i.State.ExitCode as number) : undefined],
      ['OOM killed', i.State.OOMKilled ? 'yes' : undefined],
      ['Error', (i.State.Error as string) || undefined],
      ['PID (at acquisition)', (i.State.Pid as number) || undefined],
      ['Restart count', i.RestartCount || undefined],
      ['Image', `${typeof cfg.Image === 'string' ? cfg.Image : ''} (${i.Image})${i.Dockscope.ImagePresent ? '' : ' — image no longer in the store'}`],
      ['Command', [i.Path, ...i.Args].map((a) => (a === '' || /[\s'"\\$`]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a)).join(' ')],
      ['Driver', i.Driver],
      ['Log', i.LogPath || undefined],
    ]),
  );
  const env = Array.isArray(cfg.Env) ? (cfg.Env as unknown[]).map(text) : [];
  if (env.length) out.push('', s.bold('Env'), ...env.map((x) => `  ${e(x)}`));
  const labels = cfg.Labels && typeof cfg.Labels === 'object' ? Object.entries(cfg.Labels as Record<string, unknown>) : [];
  if (labels.length) out.push('', s.bold('Labels'), ...labels.map(([k, v]) => `  ${e(k)}=${e(text(v))}`));
  if (m.volumes.length) {
    out.push('', s.bold('Mounts'));
    out.push(table(['TYPE', 'DESTINATION', 'SOURCE', 'RW'], m.volumes.map((v) => [v.type || '-', v.destination, v.source || v.name, v.rw ? 'rw' : 'ro'])).replace(/^/gm, '  '));
  }
  const hc = (i.HostConfig ?? {}) as Record<string, unknown>;
  const sec = SECURITY_KEYS.filter((k) => isSet(hc[k]) && !DEFAULTS[k]?.(hc[k]));
  out.push('', s.bold('Host config') + ' (security-relevant, set values only)');
  out.push(sec.length ? fields(sec.map((k) => [k, typeof hc[k] === 'string' ? (hc[k] as string) : jsonText(hc[k])]), '  ') : '  (defaults)');
  out.push('', s.bold('Layers') + ` (${m.stack.length}; --mounts for the full stack)`);
  const upper = m.stack.find((x) => x.role === 'upper');
  // The containerd store names the RW and init layers by snapshot key, the graph-driver store by mount-id.
  const snap = (i.Dockscope as { Snapshots?: { RW?: { Name?: string; Id?: number }; Init?: { Name?: string; Id?: number } } }).Snapshots;
  out.push(
    fields(
      snap
        ? [['RW layer', upper?.diff], ['RW snapshot', snap.RW ? `${snap.RW.Name} (#${snap.RW.Id})` : null], ['init snapshot', snap.Init ? `${snap.Init.Name} (#${snap.Init.Id})` : null]]
        : [['RW layer', upper?.diff], ['mount-id', i.Dockscope.MountID], ['init-id', i.Dockscope.InitID]],
      '  ',
    ),
  );
  for (const p of m.problems) out.push(s.red(`  ! ${e(p)}`));
  return out.join('\n');
}
