import type { ChalkInstance } from 'chalk';
import type { Argv } from 'yargs';
import { engineNetwork, findNetwork, networkReport, type NetworksReport, type NetworkView } from '../analysis/networks.js';
import { escapeText, jsonText } from '../render/escape.js';
import { shortHex } from '../render/format.js';
import { fields, table } from '../render/table.js';
import { findingsText } from '../render/views.js';
import type { Finding } from '../store/findings.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = ['networks [name]', 'network [name]'];
export const describe = 'Networks like `docker network ls` / `docker network inspect <name>` from libnetwork\'s store, joined with the containers';
export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('name', { type: 'string', describe: 'network name, ID or unique ID prefix: inspect that network' })
    .option('deleted', { type: 'boolean', describe: 'also recover records left in free pages of local-kv.db' })
    .option('no-trunc', { type: 'boolean', describe: "don't truncate IDs" });

type Args = GlobalArgs & { name?: string; deleted?: boolean; 'no-trunc'?: boolean };

const e = escapeText;

function networkFindings(list: Finding[]): Finding[] {
  return list.filter((f) => f.code.startsWith('network.') || f.path?.startsWith('network/') === true);
}

function id(s: string, full: boolean): string {
  return s === '' ? '-' : full ? s : shortHex(s);
}

export function networksText(r: NetworksReport, s: ChalkInstance, findings: Finding[], full: boolean): string {
  const out: string[] = [];
  out.push(
    table(
      ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE', 'CREATED', 'ENDPOINTS', 'SOURCE'],
      r.Networks.map((n) => {
        const eps = n.Dockscope.Endpoints;
        const stored = eps.filter((x) => x.InStore).length;
        const claimed = eps.filter((x) => !x.InStore).length;
        return [id(n.Id, full), n.Name, n.Driver || '-', n.Scope || '-', n.Created.startsWith('0001-01-01') ? '-' : n.Created, `${stored} stored${claimed ? `, ${claimed} configured` : ''}`, n.Dockscope.Source === 'store' ? 'store' : 'containers only'];
      }),
    ),
  );
  if (r.Networks.length === 0) out.push(s.dim('(no networks)'));
  if (r.Sandboxes.length > 0) {
    out.push('', s.bold('Sandboxes in the store (containers attached when it was last written)'));
    out.push(
      table(
        ['SANDBOX', 'CONTAINER', 'NAME', 'NETWORKS', 'EXT DNS'],
        r.Sandboxes.map((b) => [id(b.SandboxID, full), id(b.ContainerID, full), b.ContainerName?.replace(/^\//, '') ?? (b.ContainerExists ? '' : '(no such container)'), b.Endpoints.map((x) => x.Network ?? shortHex(x.NetworkID)).join(','), b.ExtDNS.join(',')]),
      ),
    );
  }
  if (r.Deleted) {
    out.push('', s.bold('Recovered from free pages of local-kv.db'));
    out.push(
      r.Deleted.length === 0
        ? s.dim('(nothing beyond copies of live records)')
        : table(
            ['KIND', 'ID', 'STATE', 'WHAT', 'CONTAINER NOW', 'INDEX', 'PAGE'],
            r.Deleted.map((d) => [d.Kind, id(d.Id, full), d.State, d.Summary, d.ContainerID === undefined ? '-' : d.ContainerExists ? 'exists' : 'gone', d.Index ?? '-', `${d.Page} (${d.PageSource})`]),
          ),
    );
  }
  for (const n of r.Notes) out.push(s.dim(e(n)));
  if (findings.length > 0) out.push('', s.bold('Findings'), findingsText(findings, s));
  return out.join('\n');
}

export function networkText(n: NetworkView, s: ChalkInstance, findings: Finding[], full: boolean): string {
  const d = n.Dockscope;
  const j = (x: unknown) => jsonText(x) ?? 'null';
  const out: string[] = [];
  out.push(s.bold(`Network ${e(n.Name)}`));
  out.push(
    fields([
      ['ID', n.Id || '-'],
      ['Driver', n.Driver || '-'],
      ['Scope', n.Scope || '-'],
      ['Created', n.Created],
      ['Source', d.Source === 'store' ? `local-kv.db${d.Index !== undefined ? ` (write index ${d.Index})` : ''}` : 'only named by containers'],
      ['IPAM driver', n.IPAM.Driver || '-'],
      ['IPAM options', n.IPAM.Options ? j(n.IPAM.Options) : 'null'],
      ['IPv6', n.EnableIPv6 ? 'yes' : 'no'],
      ['Internal', n.Internal ? 'yes' : 'no'],
      ['Attachable', n.Attachable ? 'yes' : 'no'],
      ['Ingress', n.Ingress ? 'yes' : 'no'],
      ['Config only', n.ConfigOnly ? 'yes' : 'no'],
      ['Config from', n.ConfigFrom.Network || undefined],
      ['Options', Object.keys(n.Options).length ? j(n.Options) : '{}'],
      ['Labels', Object.keys(n.Labels).length ? j(n.Labels) : '{}'],
      ['In delete', d.InDelete === undefined ? undefined : d.InDelete ? 'yes' : 'no'],
      ['Persist', d.Persist === undefined ? undefined : d.Persist ? 'yes' : 'no'],
      ['Endpoint count', d.StoredEndpointCount],
    ]),
  );
  const cfg = n.IPAM.Config ?? [];
  if (cfg.length > 0) {
    out.push('', s.bold('IPAM config'));
    out.push(table(['SUBNET', 'IP RANGE', 'GATEWAY', 'AUX'], cfg.map((c) => [c.Subnet ?? '', c.IPRange ?? '', c.Gateway ?? '', c.AuxiliaryAddresses ? j(c.AuxiliaryAddresses) : ''])));
  }
  out.push('', s.bold('Endpoints (store records, and containers configured for this network)'));
  out.push(
    d.Endpoints.length === 0
      ? s.dim('(none)')
      : table(
          ['CONTAINER', 'NAME', 'ENDPOINT', 'IPV4', 'IPV6', 'MAC', 'STORE', 'RUNNING', 'PORTS'],
          d.Endpoints.map((x) => [
            x.ContainerID ? id(x.ContainerID, full) : '-',
            (x.ContainerName ?? x.Name).replace(/^\//, ''),
            x.EndpointID ? id(x.EndpointID, full) : '-',
            x.IPv4Address || '-',
            x.IPv6Address || '-',
            x.MacAddress || '-',
            x.InStore ? 'yes' : 'no',
            x.Running === undefined ? '?' : x.Running ? 'yes' : 'no',
            (x.PortMap ?? []).map((p) => `${p.HostIP ?? ''}:${p.HostPort ?? ''}->${p.Port}/${p.Proto === 17 ? 'udp' : p.Proto === 132 ? 'sctp' : 'tcp'}`).join(',') ||
              (x.ExposedPorts ?? []).map((p) => `${p.Port}/${p.Proto === 17 ? 'udp' : p.Proto === 132 ? 'sctp' : 'tcp'}`).join(','),
          ]),
        ),
  );
  const notes = [...d.Notes, ...(d.Problems ?? []).map((p) => `stored value: ${p}`)];
  if (notes.length > 0) {
    out.push('', s.bold('Notes'));
    for (const x of notes) out.push(`  ${e(x)}`);
  }
  if (findings.length > 0) out.push('', s.bold('Findings'), findingsText(findings, s));
  return out.join('\n');
}

export const handler = (argv: Args) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const before = ctx.model.findings.list.length;
    const report = networkReport(ctx.model, { deleted: argv.deleted === true });
    const mine = networkFindings(ctx.model.findings.list.slice(before));
    const full = argv['no-trunc'] === true;
    if (argv.name !== undefined) {
      const n = findNetwork(report, argv.name);
      if (ctx.json) printJson({ ...engineNetwork(n), Dockscope: n.Dockscope });
      else print(networkText(n, ctx.style, mine, full));
    } else if (ctx.json) printJson(report);
    else print(networksText(report, ctx.style, mine, full));
    return answeredStatus(ctx);
  });
