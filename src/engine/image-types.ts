/** Which files are photos: extensions sharp decodes in its prebuilt binaries, in any case (cameras write .JPG). */
import path from 'node:path';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jpe', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'];

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(p).slice(1).toLowerCase());
}
