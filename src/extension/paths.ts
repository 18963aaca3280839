/**
 * Path checks for anything that reaches the extension from the webview or a drop: pure
 * functions (no vscode import) so that tests cover them directly.
 */
import path from 'node:path';
import { isImagePath } from '../engine/image-types';

/** True when `file` is inside one of `roots` (after resolving `..`), never a root itself. */
export function isInside(file: string, roots: readonly string[]): boolean {
  const abs = path.resolve(file);
  return roots.some((r) => {
    const rel = path.relative(path.resolve(r), abs);
    // "..name.jpg" is a file inside; only a first segment that is exactly ".." leaves the root.
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
  });
}

/** A photo the gallery may read: an image file inside the album. */
export function isAlbumImage(file: string, roots: readonly string[]): boolean {
  return isImagePath(file) && isInside(file, roots);
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
