/** Pure logic of the gallery: ordering, threshold filtering and formatting. No DOM. */
import type { Box, ResultItem, SortOrder } from '../shared/protocol';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** A sorted copy: similarity best first, date newest first, name A to Z (natural order); ties by similarity. */
export function sortItems(items: readonly ResultItem[], order: SortOrder): ResultItem[] {
  const out = items.slice();
  const bySim = (a: ResultItem, b: ResultItem): number => b.score - a.score || a.id - b.id;
  if (order === 'similarity') out.sort(bySim);
  else if (order === 'date') out.sort((a, b) => b.mtime - a.mtime || bySim(a, b));
  else out.sort((a, b) => collator.compare(a.name, b.name) || collator.compare(a.path, b.path) || bySim(a, b));
  return out;
}

/** Whole percent shown for a similarity, rounded down so "87%" never sits below a threshold of 87%. */
export function percent(score: number): number {
  return Math.floor(score * 100 + 1e-9);
}

/** Whether an item passes the threshold (compared in whole percent, as the user sees both). */
export function passes(item: ResultItem, thresholdPercent: number): boolean {
  return percent(item.score) >= thresholdPercent;
}

export function filterItems(sorted: readonly ResultItem[], thresholdPercent: number): ResultItem[] {
  return sorted.filter((it) => passes(it, thresholdPercent));
}

const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

export function formatDate(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? dateFormat.format(ms) : '';
}

const numberFormat = new Intl.NumberFormat();
export function formatCount(n: number): string {
  return numberFormat.format(n);
}

export function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** The index of the largest face (by area), -1 for none. */
export function largestFace(boxes: readonly Box[]): number {
  let best = -1;
  let area = -1;
  boxes.forEach((b, i) => {
    if (b[2] * b[3] > area) {
      area = b[2] * b[3];
      best = i;
    }
  });
  return best;
}

/** Whether two boxes are the same face (the matched box is one of the photo's faces, maybe rounded). */
export function sameBox(a: Box, b: Box): boolean {
  const tol = Math.max(2, 0.02 * Math.max(a[2], a[3]));
  return a.every((v, i) => Math.abs(v - b[i]) <= tol);
}
