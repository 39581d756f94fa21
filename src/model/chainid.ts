import { sha256Digest } from '../store/digest.js';

/**
 * ChainID(L1) = DiffID(L1); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)), over the
 * ASCII of both digest strings (image-spec identity.ChainIDs; FORMATS.md §1.3).
 */
export function chainIDs(diffIDs: readonly string[], memo?: Map<string, string>): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    if (out.length === 0) {
      out.push(d);
      continue;
    }
    const input = `${out[out.length - 1]} ${d}`;
    let id = memo?.get(input);
    if (id === undefined) {
      id = sha256Digest(input);
      memo?.set(input, id);
    }
    out.push(id);
  }
  return out;
}

export function chainIDOf(parentChainID: string | undefined, diffID: string): string {
  return parentChainID === undefined ? diffID : sha256Digest(`${parentChainID} ${diffID}`);
}
