/** Finding the photos of an album folder. */
import fg from 'fast-glob';
import path from 'node:path';

/** Extensions sharp decodes in its prebuilt binaries; matched in any case (cameras write .JPG). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jpe', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'];

export function isImagePath(p: string): boolean {
  const ext = path.extname(p).slice(1).toLowerCase();
  return IMAGE_EXTENSIONS.includes(ext);
}

export interface FindOptions {
  /** Globs (relative to the folder) to leave out. */
  exclude?: string[];
  /** Include dot-folders and node_modules (default false). */
  includeHidden?: boolean;
}

/** Image files under `folder`, as paths relative to it with forward slashes, sorted. Symlinks are not followed. */
export async function findImages(folder: string, opts: FindOptions = {}): Promise<string[]> {
  const ignore = [...(opts.exclude ?? [])];
  if (!opts.includeHidden) ignore.push('**/node_modules/**');
  const files = await fg(`**/*.{${IMAGE_EXTENSIONS.join(',')}}`, {
    cwd: folder,
    caseSensitiveMatch: false,
    dot: opts.includeHidden ?? false,
    followSymbolicLinks: false,
    onlyFiles: true,
    suppressErrors: true,
    ignore,
  });
  return files.sort();
}
