/** Finding the photos of an album folder. */
import sharp from 'sharp';
import { AlbumFilter, type FilterOptions } from './album-filter';
import { walkAlbum, type SkipReport } from './album-walk';
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

/** The album filter of the engine: the photos it takes are the ones the installed sharp decodes. */
export function albumFilter(roots: readonly string[], opts: FilterOptions = {}): AlbumFilter {
  return new AlbumFilter(roots, opts, DECODABLE_EXTENSIONS);
}

export interface FindOptions extends FilterOptions {
  /** Told about each folder or link that cannot be read (the rest of the album is still listed). */
  onUnreadable?: SkipReport;
}

/**
 * The photos under `folder` by the album filter's rules, as paths relative to it with forward
 * slashes, in album order. Symbolic links are followed; a file reached by several paths is listed once.
 */
export async function findImages(folder: string, opts: FindOptions = {}): Promise<string[]> {
  return (await walkAlbum(albumFilter([folder], opts), opts.onUnreadable)).photos.map((p) => p.rel);
}
