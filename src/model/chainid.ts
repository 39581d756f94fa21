import { sha256Digest } from '../store/digest.js';

/**
 * ChainID(L1) = DiffID(L1); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)), over the
 * ASCII of both digest strings (image-spec identity.ChainIDs; FORMATS.md §1.3).
 */
/**
 * Chains already hashed: parent chainID → diffID → chainID. Two levels rather than one key of
 * "parent diffID": the lookup uses the strings as they are (their hashes are cached on them) instead
 * of building and hashing a 143-character key per layer of every image.
 */
export type ChainMemo = Map<string, Map<string, string>>;

export function chainIDs(diffIDs: readonly string[], memo?: ChainMemo): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    if (out.length === 0) {
      out.push(d);
      continue;
    }
    const prev = out[out.length - 1]!;
    let byDiff = memo?.get(prev);
    let id = byDiff?.get(d);
    if (id === undefined) {
      id = sha256Digest(`${prev} ${d}`);
      if (memo) {
        if (byDiff === undefined) memo.set(prev, (byDiff = new Map()));
        byDiff.set(d, id);
      }
    }
    out.push(id);
  }
  return out;
}

export function chainIDOf(parentChainID: string | undefined, diffID: string): string {
  return parentChainID === undefined ? diffID : sha256Digest(`${parentChainID} ${diffID}`);
}
