/** Finding the photos of an album folder. */
import fg from 'fast-glob';
import * as fs from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { IMAGE_EXTENSIONS, isImagePath } from './image-types';

export { IMAGE_EXTENSIONS, isImagePath };

/**
 * The photo extensions the installed sharp decodes: its prebuilt libvips reads AVIF but not HEIC
 * (HEVC is patent-encumbered), so .heic/.heif join only where a build of sharp supports them.
 */
export const DECODABLE_EXTENSIONS: string[] = (() => {
  const suffixes = new Set(Object.values(sharp.format).flatMap((f) => (f.input.file || f.input.buffer ? (f.input.fileSuffix ?? []) : [])));
  return IMAGE_EXTENSIONS.filter((e) => suffixes.has(`.${e}`));
})();

export interface FindOptions {
  /** Globs (relative to the folder) of the photos to take; empty or absent: every image. */
  include?: string[];
  /** Globs (relative to the folder) to leave out. */
  exclude?: string[];
  /** Include dot-folders and node_modules (default false). */
  includeHidden?: boolean;
  /** Told about each folder that cannot be read (the rest of the album is still listed). */
  onUnreadable?: (folder: string, error: NodeJS.ErrnoException) => void;
}

/** Image files under `folder`, as paths relative to it with forward slashes, sorted. Symlinks are not followed. */
export async function findImages(folder: string, opts: FindOptions = {}): Promise<string[]> {
  const ignore = [...(opts.exclude ?? [])];
  if (!opts.includeHidden) ignore.push('**/node_modules/**');
  const patterns = opts.include?.length ? opts.include : [`**/*.{${DECODABLE_EXTENSIONS.join(',')}}`];
  const files = await fg(patterns, {
    cwd: folder,
    caseSensitiveMatch: false,
    dot: opts.includeHidden ?? false,
    followSymbolicLinks: false,
    onlyFiles: true,
    suppressErrors: true,
    ignore,
    // fast-glob skips unreadable folders silently; wrapping readdir lets the caller say which.
    fs: opts.onUnreadable ? readdirReporting(opts.onUnreadable) : undefined,
  });
  return files.filter((f) => DECODABLE_EXTENSIONS.includes(path.extname(f).slice(1).toLowerCase())).sort();
}

type ReaddirCallback = (err: NodeJS.ErrnoException | null, entries: fs.Dirent[]) => void;

function readdirReporting(report: NonNullable<FindOptions['onUnreadable']>): Partial<fg.FileSystemAdapter> {
  const readdir = (dir: string, options: { withFileTypes: true }, cb: ReaddirCallback) =>
    fs.readdir(dir, options, (err, entries) => {
      if (err) report(dir, err);
      cb(err, entries);
    });
  return { readdir: readdir as unknown as fg.FileSystemAdapter['readdir'] };
}
