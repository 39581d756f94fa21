import type { ChalkInstance } from 'chalk';
import type { Status, VerifyReport } from '../analysis/verify.js';
import { escapeText as e, safeJson } from './escape.js';
import { shortHex } from './format.js';
import { table } from './table.js';

export function statusMark(s: ChalkInstance, st: Status): string {
  return st === 'ok' ? s.green('ok') : st === 'unchecked' ? s.yellow('cannot check') : s.red(st);
}

export function verifyText(r: VerifyReport, s: ChalkInstance): string {
  const out: string[] = [];
  out.push(s.bold('Images'));
  out.push(
    table(
      ['IMAGE', 'TAGS', 'LAYERS', 'VERDICT'],
      r.images.map((i) => [shortHex(i.id), i.tags.join(', ') || '<none>', String(i.layers.length), i.status]),
    ).replace(/^/gm, '  '),
  );
  out.push('', s.bold('Layers'));
  const graph = r.layers.filter((l) => l.store !== 'containerd');
  const cd = r.layers.filter((l) => l.store === 'containerd');
  if (graph.length || !cd.length) {
    const cols = ['chainid', 'size', 'link', 'lower', 'committed', 'content'];
    out.push(
      table(
        ['CHAIN ID', 'CACHE ID', ...cols.map((c) => c.toUpperCase()), 'VERDICT'],
        graph.map((l) => [shortHex(l.chainID), l.cacheID ? shortHex(l.cacheID) : '-', ...cols.map((c) => l.checks.find((x) => x.check === c)?.status ?? (l.na?.[c] ? 'n/a' : '-')), l.status]),
      ).replace(/^/gm, '  '),
    );
  }
  if (cd.length) {
    // containerd image store: snapshot (by directory number), layer blob, blob → diffID, snapshot ↔ blob.
    const cols = ['snapshot', 'blob', 'uncompressed', 'content'];
    if (graph.length) out.push('', s.bold('Layers (containerd)'));
    out.push(
      table(
        ['CHAIN ID', 'DIR', ...cols.map((c) => c.toUpperCase()), 'VERDICT'],
        cd.map((l) => [shortHex(l.chainID), l.cacheID ?? '-', ...cols.map((c) => l.checks.find((x) => x.check === c)?.status ?? '-'), l.status]),
      ).replace(/^/gm, '  '),
    );
  }
  // Each line is built raw and escaped whole: check names, IDs (directory names) and details are all evidence.
  const problems: string[] = [];
  for (const c of r.store) if (c.status !== 'ok') problems.push(`store: ${c.check} ${c.status}: ${c.detail}`);
  for (const i of r.images) for (const c of i.checks) if (c.status !== 'ok' && !/^L\d+$/.test(c.check)) problems.push(`image ${shortHex(i.id)}: ${c.check} ${c.status}: ${c.detail}`);
  for (const l of r.layers) {
    for (const c of l.checks) if (c.status !== 'ok') problems.push(`layer ${shortHex(l.chainID)}: ${c.check} ${c.status}: ${c.detail}`);
    for (const f of l.files.slice(0, 50)) problems.push(`layer ${shortHex(l.chainID)}: ${f.status} ${f.path}${f.detail ? ` (${f.detail})` : ''}`);
    for (const x of l.extras.slice(0, 50)) problems.push(`layer ${shortHex(l.chainID)}: extra ${x.type} ${x.path} (not in the layer's ${l.store === 'containerd' ? 'blob' : 'tar-split'})`);
  }
  if (problems.length) out.push('', s.bold('Findings'), ...problems.map((p) => `  ${e(p)}`));
  // Checks that do not apply to a store (no short links, no chainIDs): said once each, not as findings.
  const notes = new Map<string, string>();
  for (const l of r.layers) for (const [c, why] of Object.entries(l.na ?? {})) if (!notes.has(`${c} ${why}`)) notes.set(`${c} ${why}`, `${c}: ${why}`);
  if (notes.size) out.push('', s.bold('Not applicable'), ...[...notes.values()].map((n) => `  ${e(n)}`));
  out.push('', `Verdict: ${statusMark(s, r.status)}`);
  return out.join('\n');
}

/**
 * `--json` of a report in pieces: the same bytes as safeJson(report) with its 2-space indent, but
 * every array element (image, layer, finding) is serialized on its own. On a store of 20,000
 * layers the whole text is some 40 MB, and printing it at once held it three times (the text, its
 * escaped copy, its UTF-8 bytes). Re-indenting an element's text is exact: JSON never holds a raw
 * newline inside a string, and the elements are far shallower than jsonText's PRETTY_LEVELS.
 */
export function* jsonPieces(value: Record<string, unknown>): Generator<string> {
  const fields = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
  if (fields.length === 0) {
    yield '{}';
    return;
  }
  yield '{';
  let first = true;
  for (const [k, v] of fields) {
    const head = `${first ? '' : ','}\n  ${safeJson(k, 0)}: `;
    first = false;
    if (!Array.isArray(v) || v.length === 0) {
      yield head + indent(safeJson(v, 2), '  ');
      continue;
    }
    yield head + '[';
    for (let i = 0; i < v.length; i++) yield `${i ? ',' : ''}\n    ${indent(safeJson(v[i], 2), '    ')}`;
    yield '\n  ]';
  }
  yield '\n}';
}

function indent(text: string, pad: string): string {
  return text.includes('\n') ? text.replace(/\n/g, '\n' + pad) : text;
}
