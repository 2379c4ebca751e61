// "did you mean" for unknown keys and flags. Typos are the most common config error,
// and naming the intended key turns a lookup in the docs into a one-second fix.

/** Folds the spellings people carry over from other tools: httpPort, http_port, HTTP-PORT. */
function normalize(name: string): string {
  return name.replace(/^-+/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase().replace(/_/g, '-');
}

/** Edits (insert, delete, substitute, swap two neighbours) between two names. */
function editDistance(left: string, right: string): number {
  const rows: number[][] = [];
  for (let row = 0; row <= left.length; row++) {
    rows.push([row]);
    for (let column = 1; column <= right.length; column++) {
      if (row === 0) {
        rows[row].push(column);
        continue;
      }
      const cost = left[row - 1] === right[column - 1] ? 0 : 1;
      let best = Math.min(rows[row - 1][column] + 1, rows[row][column - 1] + 1, rows[row - 1][column - 1] + cost);
      // "prot" for "port": a swap is one typo, not two
      if (row > 1 && column > 1 && left[row - 1] === right[column - 2] && left[row - 2] === right[column - 1]) {
        best = Math.min(best, rows[row - 2][column - 2] + 1);
      }
      rows[row].push(best);
    }
  }
  return rows[left.length][right.length];
}

/**
 * The candidate closest to `given`, if close enough to be a likely typo: the same
 * after normalizing, or within about one edit per three letters.
 */
export function closestName(given: string, candidates: readonly string[]): string | undefined {
  const wanted = normalize(given);
  if (wanted.length === 0) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalize(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(wanted.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}
