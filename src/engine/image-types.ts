/** Which files are photos: extensions sharp decodes in its prebuilt binaries, in any case (cameras write .JPG). */
import path from 'node:path';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jpe', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'];

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(p).slice(1).toLowerCase());
}

/**
 * A glob matching the photo extensions in any case (`**\/*.{[jJ][pP][gG],...}`): VS Code's globs
 * (file watchers, activation events) are case-sensitive on Linux, where cameras write .JPG.
 */
export function anyCaseGlob(extensions: readonly string[] = IMAGE_EXTENSIONS): string {
  const anyCase = (e: string) => [...e].map((c) => (c.toLowerCase() === c.toUpperCase() ? c : `[${c.toLowerCase()}${c.toUpperCase()}]`)).join('');
  return `**/*.{${extensions.map(anyCase).join(',')}}`;
}
