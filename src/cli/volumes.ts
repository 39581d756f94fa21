import type { ChalkInstance } from 'chalk';
import type { Argv } from 'yargs';
import { findVolume, volumeReport, type VolumesReport, type VolumeView } from '../analysis/volumes.js';
import { escapeText, jsonText } from '../render/escape.js';
import { humanSize, shortHex } from '../render/format.js';
import { fields, table } from '../render/table.js';
import { findingsText } from '../render/views.js';
import type { Finding } from '../store/findings.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = ['volumes [name]', 'volume [name]'];
export const describe = 'Volumes like `docker volume ls` / `docker volume inspect <name>`, with data size, users and store mismatches';
export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('name', { type: 'string', describe: 'volume name (or unique prefix): inspect that volume' })
    .option('deleted', { type: 'boolean', describe: 'also recover volume records left in free pages of metadata.db' })
    .option('no-size', { type: 'boolean', describe: "don't walk _data for size and newest change" });

type Args = GlobalArgs & { name?: string; deleted?: boolean; 'no-size'?: boolean };

const e = escapeText;

function volumeFindings(list: Finding[]): Finding[] {
  return list.filter((f) => f.code.startsWith('volume.') || f.path?.startsWith('volumes/') === true);
}

function sizeCell(v: VolumeView): string {
  const d = v.Dockscope;
  if (d.Size === undefined) return '-';
  return `${humanSize(d.Size)}${d.SizeTruncated ? '+' : ''}`;
}

function usersCell(v: VolumeView): string {
  const u = v.Dockscope.UsedBy;
  if (u.length === 0) return '-';
  const names = u.map((x) => (x.Name ? x.Name.replace(/^\//, '') : shortHex(x.Container)) + (x.Running ? '*' : ''));
  return [...new Set(names)].join(',');
}

export function volumesText(r: VolumesReport, s: ChalkInstance, findings: Finding[]): string {
  const out: string[] = [];
  out.push(
    table(
      ['DRIVER', 'VOLUME NAME', 'STATUS', 'CREATED', 'SIZE', 'USED BY (* running)'],
      r.Volumes.map((v) => [v.Driver, v.Name, v.Dockscope.Status + (v.Dockscope.Anonymous ? ' (anon)' : ''), v.CreatedAt ?? '-', sizeCell(v), usersCell(v)]),
    ),
  );
  if (r.Volumes.length === 0) out.push(s.dim('(no volumes)'));
  if (r.Deleted) {
    out.push('', s.bold('Recovered from free pages of metadata.db'));
    out.push(
      r.Deleted.length === 0
        ? s.dim('(nothing beyond copies of live records)')
        : table(
            ['VOLUME NAME', 'DRIVER', 'STATE', 'DIR ON DISK', 'LABELS', 'PAGE'],
            r.Deleted.map((d) => [d.Name, d.Driver, d.State, d.Directory ? 'yes' : 'no', d.Labels ? (jsonText(d.Labels) ?? '-') : '-', `${d.Page} (${d.PageSource})`]),
          ),
    );
  }
  for (const n of r.Notes) out.push(s.dim(e(n)));
  if (findings.length > 0) out.push('', s.bold('Findings'), findingsText(findings, s));
  return out.join('\n');
}

export function volumeText(v: VolumeView, s: ChalkInstance, findings: Finding[]): string {
  const d = v.Dockscope;
  const j = (x: unknown) => (x === null || x === undefined ? undefined : jsonText(x));
  const out: string[] = [];
  out.push(s.bold(`Volume ${e(v.Name)}`));
  out.push(
    fields([
      ['Driver', v.Driver],
      ['Scope', v.Scope],
      ['Created', v.CreatedAt ?? '-'],
      ['Created from', d.CreatedAtFrom],
      ['Mountpoint', v.Mountpoint || '-'],
      ['Labels', j(v.Labels) ?? 'null'],
      ['Options', j(v.Options) ?? 'null'],
      ['Status', d.Status],
      ['Docker lists it', d.DockerLists === null ? 'depends on the volume plugin' : d.DockerLists ? 'yes' : 'no'],
      ['In metadata.db', d.InMetadata ? (d.MetadataKey !== undefined ? `yes, key ${jsonText(d.MetadataKey)}` : 'yes') : 'no'],
      ['Metadata problem', d.MetadataProblem],
      ['Anonymous', d.Anonymous ? 'yes' : 'no'],
      ['Directory', d.Directory ?? '-'],
      ['_data present', d.DataDir ? 'yes' : 'no'],
      ['Dir changed', d.DirChanged],
      ['_data changed', d.DataChanged],
      ['_data modified', d.DataModified],
      ['Size', d.Size === undefined ? undefined : `${d.Size} bytes (${humanSize(d.Size)}) in ${d.Files ?? 0} files, ${d.Dirs ?? 0} dirs${d.SizeTruncated ? ' — walk stopped at a bound, lower limit' : ''}`],
      ['Newest change', d.NewestMtime === undefined ? undefined : `${d.NewestMtime} ${d.NewestPath ?? ''}`],
      ['opts.json', d.Opts ? `type=${jsonText(d.Opts.MountType)} device=${jsonText(d.Opts.MountDevice)} o=${jsonText(d.Opts.MountOpts)}${d.Opts.QuotaSize !== undefined ? ` size=${d.Opts.QuotaSize}` : ''}` : undefined],
      ['Ref count', d.RefCount],
    ]),
  );
  if (d.UsedBy.length > 0) {
    out.push('', s.bold('Mounted by'));
    out.push(table(['CONTAINER', 'NAME', 'DESTINATION', 'MODE', 'RUNNING'], d.UsedBy.map((u) => [shortHex(u.Container), u.Name.replace(/^\//, ''), u.Destination, u.RW ? 'rw' : 'ro', u.Running ? 'yes' : 'no'])));
  }
  if (d.Notes.length > 0) {
    out.push('', s.bold('Notes'));
    for (const n of d.Notes) out.push(`  ${e(n)}`);
  }
  if (findings.length > 0) out.push('', s.bold('Findings'), findingsText(findings, s));
  return out.join('\n');
}

export const handler = (argv: Args) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const before = ctx.model.findings.list.length;
    const report = volumeReport(ctx.model, ctx.paths, { deleted: argv.deleted === true, size: argv['no-size'] !== true });
    const mine = volumeFindings(ctx.model.findings.list.slice(before));
    if (argv.name !== undefined) {
      const v = findVolume(report, argv.name);
      const own = mine.filter((f) => f.path === undefined || f.path === 'volumes/metadata.db' || f.path.startsWith(`volumes/${v.Name}`));
      if (ctx.json) printJson(v);
      else print(volumeText(v, ctx.style, own));
    } else if (ctx.json) printJson(report);
    else print(volumesText(report, ctx.style, mine));
    return answeredStatus(ctx);
  });
