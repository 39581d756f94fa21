/**
 * Docker image references, normalised the way distribution/reference does it
 * (ParseNormalizedNamed, FamiliarString), so `ubuntu`, `docker.io/library/ubuntu:latest` and
 * `index.docker.io/library/ubuntu` all name the same repository.
 */
export interface ParsedRef {
  /** Registry host ('docker.io' when none was given). */
  domain: string;
  /** Path inside the registry ('library/ubuntu'). */
  path: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Parses a reference as `docker pull` would; undefined when Docker would refuse it. */
export function parseNormalizedNamed(s: string): ParsedRef | undefined {
  if (/^[a-f0-9]{64}$/.test(s) || s.length > 512) return undefined;
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  let domain = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (!DOMAIN.test(domain) || path === '' || !path.split('/').every((c) => COMPONENT.test(c))) return undefined;
  if (domain.length + 1 + path.length > 255) return undefined;
  return { domain, path, tag, digest };
}

/** 'docker.io/library/ubuntu' → 'ubuntu'; 'docker.io/me/app' → 'me/app'. */
export function familiarName(r: ParsedRef): string {
  if (r.domain !== 'docker.io') return `${r.domain}/${r.path}`;
  const p = r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
  return p;
}

export function familiarString(r: ParsedRef): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** The fully-qualified form; Docker sorts an image's references by it. */
export function fullString(r: ParsedRef): string {
  return `${r.domain}/${r.path}` + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** What `docker run ubuntu` looks up: a bare name means `:latest`; tag+digest looks up by digest. */
export function lookupKey(r: ParsedRef): string {
  if (r.digest !== undefined) return familiarString({ ...r, tag: undefined });
  return familiarString({ ...r, tag: r.tag ?? 'latest' });
}
