/**
 * Path checks for anything that reaches the extension from the webview or a drop: pure
 * functions (no vscode import) so that tests cover them directly.
 */
import path from 'node:path';
import type { AlbumFilter } from '../engine/album-filter';

/** The album's one "inside a root" rule, shared with the index (engine/album-filter.ts). */
export { isInside } from '../engine/album-filter';

/**
 * A photo the gallery may read: one the album filter takes (the index's own rule, so a photo
 * reached through a symlinked folder is one, and an excluded, hidden or undecodable file is not).
 */
export function isAlbumImage(file: string, filter: AlbumFilter): boolean {
  return filter.accepts(file) !== undefined;
}

/** `name` with " (2)", " (3)"... before its extension until `exists` says it is free. */
export function uniqueName(name: string, exists: (candidate: string) => boolean): string {
  if (!exists(name)) return name;
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let i = 2; ; i++) {
    const candidate = `${stem} (${i})${ext}`;
    if (!exists(candidate)) return candidate;
  }
}
