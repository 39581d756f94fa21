import { isDigest } from './digest.js';
import type { Findings } from './findings.js';
import { bool, isObject, parseJson, preview, str } from './read.js';

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/**
 * An image config (FORMATS.md §3): the fields inspect shows, as checked copies. The parsed
 * document itself is not kept: on a store of thousands of images it was memory nothing read.
 */
export interface ImageConfig {
  created?: string;
  author?: string;
  comment?: string;
  container?: string;
  dockerVersion?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  osVersion?: string;
  config?: Record<string, unknown>;
  containerConfig?: Record<string, unknown>;
  /** rootfs.diff_ids, bottom layer first. */
  diffIDs: string[];
  rootfsType?: string;
  history: HistoryEntry[];
}

/** Short history strings that repeat across images ("buildkit.dockerfile.v0"): one copy each. */
const common = new Map<string, string>();
function intern(s: string | undefined): string | undefined {
  if (s === undefined || s.length > 64) return s;
  const hit = common.get(s);
  if (hit !== undefined) return hit;
  if (common.size < 4096) common.set(s, s);
  return s;
}

/** Parses image config bytes. Returns undefined when Docker itself would refuse the config. */
export function parseImageConfig(buf: Buffer, path: string, f: Findings): ImageConfig | undefined {
  const doc = parseJson(buf, path, f, 'imagedb.bad-json');
  if (doc === undefined) return undefined;
  if (!isObject(doc)) {
    f.add('error', 'imagedb.bad-shape', 'image config is not a JSON object', path);
    return undefined;
  }
  const rootfs = doc.rootfs;
  if (!isObject(rootfs)) {
    // NewFromJSON: "invalid image JSON, no RootFS key"
    f.add('error', 'imagedb.no-rootfs', 'image config has no rootfs; Docker refuses it', path);
    return undefined;
  }
  const diffIDs: string[] = [];
  if (Array.isArray(rootfs.diff_ids)) {
    for (const d of rootfs.diff_ids) {
      if (typeof d === 'string' && isDigest(d)) diffIDs.push(d);
      else {
        f.add('error', 'imagedb.bad-diffid', `rootfs.diff_ids holds ${preview(d)}`, path);
        return undefined;
      }
    }
  } else if (rootfs.diff_ids !== undefined && rootfs.diff_ids !== null) {
    f.add('error', 'imagedb.bad-shape', 'rootfs.diff_ids is not an array', path);
    return undefined;
  }
  const history: HistoryEntry[] = [];
  if (Array.isArray(doc.history)) {
    for (const h of doc.history) {
      if (!isObject(h)) {
        f.add('warn', 'imagedb.bad-history', 'history entry is not an object', path);
        continue;
      }
      history.push({
        created: str(h.created),
        created_by: str(h.created_by),
        author: intern(str(h.author)),
        comment: intern(str(h.comment)),
        empty_layer: bool(h.empty_layer),
      });
    }
  }
  const nonEmpty = history.filter((h) => !h.empty_layer).length;
  if (history.length > 0 && nonEmpty > diffIDs.length)
    f.add('warn', 'imagedb.history-mismatch', `history has ${nonEmpty} non-empty entries for ${diffIDs.length} layers`, path);
  return {
    created: str(doc.created),
    author: str(doc.author),
    comment: str(doc.comment),
    container: str(doc.container),
    dockerVersion: str(doc.docker_version),
    architecture: str(doc.architecture),
    variant: str(doc.variant),
    os: str(doc.os),
    osVersion: str(doc['os.version']),
    config: isObject(doc.config) ? doc.config : undefined,
    containerConfig: isObject(doc.container_config) ? doc.container_config : undefined,
    diffIDs,
    rootfsType: str(rootfs.type),
    history,
  };
}
