import type { Source } from '../source/types.js';
import type { Findings } from './findings.js';
import { readOptional } from './read.js';
import { SqliteFile } from './sqlite.js';

/**
 * `linkgraph.db` (FORMATS.md §7.3; `moby@v1.9.1:pkg/graphdb/graphdb.go`): SQLite tables
 * `entity(id)` and `edge(entity_id, parent_id, name)`. Root entity "0"; a container is an edge
 * parent "0" → its ID named by the container name; a link is an edge parent = the linking
 * container → the linked one, named by the alias. Docker 1.10–17.03 read it once to migrate links
 * into hostconfig.json; it is left behind afterwards.
 */
export interface Linkgraph {
  /** Container ID → name (without the leading '/'). */
  names: Map<string, string>;
  /** `parent` links to `child` under `alias`. */
  links: { parent: string; alias: string; child: string }[];
  /** File size in bytes. */
  size: number;
}

/** Read whole, bounded: a linkgraph of thousands of containers is still well under this. */
const LIMIT = 64 << 20;

export function parseLinkgraph(buf: Buffer, path: string, f: Findings): Linkgraph {
  const out: Linkgraph = { names: new Map(), links: [], size: buf.length };
  const db = new SqliteFile(buf, path, f);
  if (!db.ok) return out;
  const edge = db.tables().find((t) => t.name === 'edge');
  if (!edge) {
    f.add('warn', 'linkgraph.no-edge-table', 'no "edge" table', path);
    return out;
  }
  // graphdb.go createTables: "entity_id", "parent_id", "name" in that order.
  const cols = [...edge.sql.matchAll(/"?(entity_id|parent_id|name)"?\s+text/gi)].map((m) => m[1]!.toLowerCase());
  if (cols.join(',') !== 'entity_id,parent_id,name') f.add('warn', 'linkgraph.odd-schema', `edge columns ${JSON.stringify(cols)}; read as entity_id, parent_id, name`, path);
  for (const row of db.rows(edge.rootPage)) {
    const [entity, parent, name] = row.values;
    if (typeof entity !== 'string' || typeof name !== 'string') continue;
    if (parent === '0') out.names.set(entity, name);
    else if (typeof parent === 'string' && parent !== '') out.links.push({ parent, alias: name, child: entity });
  }
  return out;
}

export function loadLinkgraph(src: Source, f: Findings): Linkgraph | undefined {
  const st = src.lstat('linkgraph.db');
  if (st?.type !== 'file') return undefined;
  if (st.size > LIMIT) {
    f.add('info', 'linkgraph.not-parsed', `linkgraph.db is ${st.size} bytes, over the ${LIMIT}-byte bound: present, not parsed`, 'linkgraph.db');
    return { names: new Map(), links: [], size: st.size };
  }
  const buf = readOptional(src, 'linkgraph.db', f, 'linkgraph.unreadable', LIMIT);
  if (!buf) return undefined;
  if (src.lstat('linkgraph.db-wal')?.type === 'file') f.add('info', 'linkgraph.wal', 'linkgraph.db-wal present: changes still in the write-ahead log are not read', 'linkgraph.db-wal');
  return parseLinkgraph(buf, 'linkgraph.db', f);
}
