import type { ChalkInstance } from 'chalk';
import type { ChainReport } from '../analysis/chain.js';
import type { HistoryItem, ImageSummary } from '../analysis/inspect.js';
import type { MountReport } from '../analysis/mounts.js';
import type { Finding } from '../store/findings.js';
import { escapeText as e, jsonText } from './escape.js';
import { humanSize, isoSeconds, shortHex } from './format.js';
import { fields, table } from './table.js';
import { renderTree, type TreeNode } from './tree.js';

const mark = (s: ChalkInstance, ok: boolean) => (ok ? s.green('✓') : s.red('✗'));

export function imagesTable(list: ImageSummary[], opts: { digests: boolean; noTrunc: boolean }): string {
  // Both stores on one disk: say which one each row is from.
  const stores = new Set(list.map((i) => i.Dockscope?.Store ?? ''));
  const withStore = stores.size > 1;
  const head = ['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE', ...(withStore ? ['STORE'] : [])];
  const st = (img: ImageSummary) => (withStore ? [img.Dockscope?.Store ?? '-'] : []);
  const rows: string[][] = [];
  for (const img of list) {
    const id = opts.noTrunc ? img.Id : shortHex(img.Id);
    // Like the docker CLI: one row per tag; digests matched to their repository.
    const tags = img.RepoTags.length ? img.RepoTags : ['<none>:<none>'];
    const repoOf = (r: string) => r.slice(0, r.lastIndexOf(r.includes('@') ? '@' : ':'));
    const seen = new Set<string>();
    for (const t of tags) {
      const repo = repoOf(t);
      const tag = t.slice(repo.length + 1);
      const digest = img.RepoDigests.find((d) => d !== '<none>@<none>' && repoOf(d) === repo)?.slice(repo.length + 1) ?? '<none>';
      seen.add(repo);
      rows.push([repo, tag, ...(opts.digests ? [digest] : []), id, isoSeconds(img.Created), humanSize(img.Size), ...st(img)]);
    }
    if (opts.digests)
      for (const d of img.RepoDigests) {
        const repo = repoOf(d);
        if (d === '<none>@<none>' || seen.has(repo)) continue;
        seen.add(repo);
        rows.push([repo, '<none>', d.slice(repo.length + 1), id, isoSeconds(img.Created), humanSize(img.Size), ...st(img)]);
      }
  }
  return table(head, rows);
}

export function historyTable(items: HistoryItem[], noTrunc: boolean): string {
  return table(
    ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
    items.map((h) => [h.Id === '<missing>' || noTrunc ? h.Id : shortHex(h.Id), isoSeconds(h.Created), noTrunc ? h.CreatedBy : truncate(h.CreatedBy, 45), humanSize(h.Size), h.Comment]),
  );
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

export interface ImageView {
  inspect: ReturnType<typeof import('../analysis/inspect.js').inspectImage>;
  history: HistoryItem[];
}

export function imageText(v: ImageView, s: ChalkInstance): string {
  const i = v.inspect;
  const cfg = (i.Config ?? {}) as Record<string, unknown>;
  const j = (x: unknown) => (x === null || x === undefined || x === '' ? undefined : typeof x === 'string' ? x : jsonText(x));
  const out: string[] = [];
  out.push(s.bold(`Image ${e(i.Id)}`));
  out.push(
    fields([
      ['Tags', i.RepoTags.join(', ') || '<none>'],
      ['Digests', i.RepoDigests.join(', ') || undefined],
      ['Created', i.Created],
      ['Last tagged', i.Metadata.LastTagTime.startsWith('0001-') ? undefined : i.Metadata.LastTagTime],
      ['Parent', i.Parent || undefined],
      ['Author', i.Author || undefined],
      ['Comment', i.Comment || undefined],
      ['Docker version', i.DockerVersion || undefined],
      ['Platform', `${i.Os}/${i.Architecture}${i.Variant ? '/' + i.Variant : ''}`],
      ['Store', `${i.Dockscope.Store} (${i.GraphDriver.Name})`],
      ['Size', `${humanSize(i.Size)} (${i.Size} bytes)`],
      ['Restorable', i.Dockscope.Restorable ? 'yes' : `no: ${i.Dockscope.DropReason}`],
      ['Config digest', i.Dockscope.ConfigDigestMatches ? 'matches the image ID' : 'DOES NOT match the image ID'],
      ['Built locally', i.Dockscope.BuiltLocally ? 'yes' : undefined],
    ]),
  );
  out.push('', s.bold('Config'));
  out.push(
    fields(
      [
        ['Entrypoint', j(cfg.Entrypoint)],
        ['Cmd', j(cfg.Cmd)],
        ['WorkingDir', j(cfg.WorkingDir)],
        ['User', j(cfg.User)],
        ['Env', j(cfg.Env)],
        ['ExposedPorts', j(cfg.ExposedPorts)],
        ['Volumes', j(cfg.Volumes)],
        ['Labels', j(cfg.Labels)],
        ['Healthcheck', j(cfg.Healthcheck)],
        ['StopSignal', j(cfg.StopSignal)],
      ],
      '  ',
    ) || '  (none)',
  );
  out.push('', s.bold('History') + ' (newest first)');
  out.push(
    table(
      ['#', 'CREATED', 'SIZE', 'LAYER', 'CREATED BY'],
      v.history.map((h, n) => [String(v.history.length - 1 - n), isoSeconds(h.Created), humanSize(h.Size), h.Layer === undefined ? '(empty)' : `L${h.Layer}`, truncate(h.CreatedBy, 80)]),
    ).replace(/^/gm, '  '),
  );
  out.push('', s.bold('Layers') + ' (base first)');
  const nodes: TreeNode[] = i.Dockscope.Layers.map((l) => ({
    label: `L${l.Index} ${e(l.DiffID)}`,
    children: l.Snapshot !== undefined || l.Blob !== undefined ? snapshotLayerRows(l, s) : [
      { label: `chainID   ${e(l.ChainID)} ${mark(s, l.Present)}${l.Present ? '' : ' missing from layerdb'}${l.Present && !l.DiffMatches ? s.red(' diff file differs') : ''}${l.Present && !l.ParentMatches ? s.red(' parent differs') : ''}` },
      { label: `cache-id  ${e(l.CacheID ?? '-')}` },
      { label: `dir       ${e(l.DriverDir ?? '-')} ${mark(s, l.DriverDirPresent)}` },
      { label: l.LinkNote ? `link      ${s.dim(e(l.LinkNote))}` : `link      ${l.Link ? 'l/' + e(l.Link) : '-'} ${mark(s, l.LinkPresent)}` },
      { label: `size      ${l.Size === null ? '-' : `${humanSize(l.Size)} (${l.Size} bytes)`}${l.TarSplit ? '' : s.yellow(' no tar-split')}` },
      ...l.Distribution.map((d) => ({ label: `pulled    ${e(d.SourceRepository)} ${e(d.Digest)}` })),
    ],
  }));
  out.push(nodes.length ? renderTree(nodes) : '  (no layers)');
  return out.join('\n');
}

/** A containerd layer: the committed snapshot keyed by its chainID, and the blob it came from. */
function snapshotLayerRows(l: ImageView['inspect']['Dockscope']['Layers'][number], s: ChalkInstance): TreeNode[] {
  const sn = l.Snapshot;
  return [
    { label: `chainID   ${e(l.ChainID)} ${mark(s, l.Present)}${l.Present ? '' : ' no snapshot (not unpacked)'}${l.Present && !l.DiffMatches ? s.red(' blob label names another diffID') : ''}${l.Present && !l.ParentMatches ? s.red(' snapshot parent differs') : ''}` },
    { label: `snapshot  ${sn ? `${e(String(sn.Id ?? '?'))} ${e(sn.Kind)} ${e(sn.BackendKey ?? '')}` : '-'}` },
    { label: `dir       ${e(l.DriverDir ?? '-')} ${mark(s, l.DriverDirPresent)}` },
    { label: `size      ${l.Size === null ? '-' : `${humanSize(l.Size)} (${l.Size} bytes)`}` },
    ...(l.Blob ? [{ label: `blob      ${e(l.Blob.Digest)} ${e(l.Blob.MediaType)} ${humanSize(l.Blob.Size)} ${mark(s, l.Blob.Present)}` }] : []),
    ...l.Distribution.map((d) => ({ label: `pulled    ${e(d.SourceRepository)} ${e(d.Digest)}` })),
  ];
}

export function chainText(r: ChainReport, s: ChalkInstance): string {
  const out: string[] = [];
  out.push(s.bold(`Layer ${e(r.chainID)}`));
  out.push(fields([['Matched', r.matches.map((m) => `${m.kind} ${m.value}`).join('; ')], ['Store', r.store]]));
  if (r.problem) out.push(s.red(`Chain problem: ${e(r.problem)}`));
  out.push('', s.bold('Chain') + ' (base first; each chainID recomputed from the one below and its diffID)');
  out.push(
    renderTree(
      r.steps.map((st, i) => ({
        label: st.buildStep
          ? `${i}: ${e(st.chainID)} ${s.dim('(init snapshot of a build step, between two layers)')}`
          : st.recomputeNote
            ? `${i}: ${e(st.chainID)} ${s.dim(e(st.recomputeNote))}`
            : `${i}: ${e(st.chainID)} ${mark(s, st.recomputedMatches)}${st.recomputedMatches ? '' : s.red(` recomputed ${e(st.recomputed ?? '-')}`)}`,
        children: st.snapshot ? [
          ...(st.buildStep ? [] : [{ label: `diffID   ${e(st.diffID ?? '-')}` }]),
          { label: `parent   ${e(st.parent ?? '(base layer)')}` },
          { label: `snapshot ${e(st.cacheID ?? '?')} ${e(st.snapshot.Kind)} ${e(st.snapshot.BackendKey ?? '')}` },
          { label: `dir      ${e(st.driverDir ?? '-')} ${mark(s, st.driverDirPresent)}` },
          { label: `size     ${st.size === undefined ? '-' : `${humanSize(st.size)} (${st.size} bytes)`}` },
        ] : [
          { label: `diffID   ${e(st.diffID ?? '-')}` },
          { label: `parent   ${e(st.parent ?? '(base layer)')}` },
          { label: `cache-id ${e(st.cacheID ?? '-')} → ${e(st.driverDir ?? '-')} ${mark(s, st.driverDirPresent)}${st.committed ? ' committed' : ''}` },
          { label: st.linkNote ? `link     ${s.dim(e(st.linkNote))}` : `link     ${st.link ? 'l/' + e(st.link) + ' → ' + e(st.linkTarget ?? '(missing)') : '-'} ${mark(s, st.linkOk)}` },
          { label: `size     ${st.size === undefined ? '-' : `${humanSize(st.size)} (${st.size} bytes)`}${st.tarSplit ? '' : s.yellow(' no tar-split')}` },
          ...(st.loadError ? [{ label: s.red(`Docker cannot load it: ${e(st.loadError)}`) }] : []),
        ],
      })),
    ),
  );
  out.push('', s.bold('Used by'));
  for (const u of r.usedByImages) out.push(`  image ${e(shortHex(u.id))} ${e(u.tags.join(', ') || '<none>')} (as layer L${u.position})`);
  for (const u of r.usedByContainers) out.push(`  container ${e(shortHex(u.id))} ${e(u.name)}`);
  if (!r.usedByImages.length && !r.usedByContainers.length) out.push(s.yellow('  nothing: an orphan layer'));
  if (r.pulledFrom.length) {
    out.push('', s.bold('Registry blobs'));
    for (const p of r.pulledFrom) out.push(`  ${e(p.SourceRepository)} ${e(p.Digest)}`);
  }
  return out.join('\n');
}

export function mountsText(m: MountReport, s: ChalkInstance): string {
  const out: string[] = [s.bold('Layer stack') + ` (top to bottom${m.store ? `; ${e(m.store)} store` : ''})`];
  out.push(
    table(
      ['ROLE', 'DIR', m.stack.some((x) => x.snapshot) ? 'SNAPSHOT' : 'LINK', 'LAYER'],
      m.stack.map((x) => [
        x.role === 'image' ? (x.buildStep ? 'build step' : x.index === undefined ? 'image' : `image L${x.index}`) : x.role,
        `${x.diff}${x.present ? '' : ' (missing)'}`,
        x.link ? `l/${x.link}` : x.snapshot ? `snapshot ${x.snapshot.Id ?? '?'} ${x.snapshot.Kind}` : '-',
        x.chainID ? `chain ${shortHex(x.chainID)} diff ${shortHex(x.diffID ?? '')}` : x.buildStep ? `init ${x.id.slice(0, 12)}… of a build container` : x.snapshot ? x.id : '',
      ]),
    ).replace(/^/gm, '  '),
  );
  out.push(fields([['work', m.work], ['merged', m.merged ? `${m.merged}${m.mergedPresent ? ' (present: mounted when acquired)' : ''}` : undefined]], '  '));
  for (const p of m.problems) out.push(s.red(`  ! ${e(p)}`));
  if (m.volumes.length) {
    out.push('', s.bold('Volumes and binds'));
    out.push(
      table(
        ['TYPE', 'DESTINATION', 'SOURCE', 'RW', 'IN EVIDENCE'],
        m.volumes.map((v) => [v.type || '-', v.destination, v.source || v.name || '-', v.rw ? 'rw' : 'ro', v.evidencePath ?? (v.type === 'bind' ? '(host path, not in the data root)' : '-')]),
      ).replace(/^/gm, '  '),
    );
  }
  if (m.dockerMount) out.push('', s.bold('As Docker mounted it'), `  ${e(m.dockerMount)}`);
  if (m.readOnlyMount) out.push('', s.bold('Read-only mount of a copy') + ' (run as root on a copy of the evidence)', `  ${e(m.readOnlyMount)}`);
  return out.join('\n');
}

export function findingsText(list: Finding[], s: ChalkInstance, max = 20): string {
  const sev = (f: Finding) => (f.severity === 'error' ? s.red('error') : f.severity === 'warn' ? s.yellow('warn ') : s.dim('info '));
  const lines = list.slice(0, max).map((f) => `  ${sev(f)} ${e(f.code)}${f.path ? ' ' + e(f.path) : ''}: ${e(f.message)}`);
  if (list.length > max) lines.push(`  … ${list.length - max} more (--json lists them all)`);
  return lines.join('\n');
}
