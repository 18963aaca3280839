/**
 * Decoding photos with sharp: EXIF orientation applied, first frame of animations, alpha
 * flattened, greyscale expanded to RGB, and guards against files that are too large or that
 * declare more pixels than memory allows (decompression bombs). Every failure is an ImageError
 * whose `kind` a caller can count and whose message a user can read.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import type { RgbImage } from './types';

export type ImageErrorKind = 'empty' | 'too-large' | 'too-many-pixels' | 'not-an-image' | 'truncated' | 'corrupt' | 'unreadable' | 'changed';

export class ImageError extends Error {
  constructor(readonly kind: ImageErrorKind, message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

export interface DecodeOptions {
  /** Largest file accepted, in bytes (default 16 MB). */
  maxBytes?: number;
  /** Largest image accepted, in pixels (default 120 megapixels, above the largest phone sensors). */
  maxPixels?: number;
  /**
   * Long side of the pixels handed to the detector and aligner (default 2048). Larger photos are
   * reduced while decoding, which lets libjpeg decode at 1/2, 1/4 or 1/8 scale.
   */
  maxSide?: number;
}

/** Just the decoding options out of a larger options object (engine or index options extend DecodeOptions). */
export function decodeOptionsOf({ maxBytes, maxPixels, maxSide }: DecodeOptions): DecodeOptions {
  return { maxBytes, maxPixels, maxSide };
}

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_PIXELS = 120_000_000;
export const DEFAULT_MAX_SIDE = 2048;

export interface DecodedImage {
  /** Size of the EXIF-rotated photo: the space boxes and landmarks are reported in. */
  width: number;
  height: number;
  /** Working pixels, at most `maxSide` on the long side. */
  pixels: RgbImage;
  /** pixels.width / width (1 when the photo was not reduced). */
  scale: number;
  format: string;
}

function sizeText(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

/** Reads a file with the size guard; errors become ImageErrors. */
export async function readImageFile(file: string, maxBytes = DEFAULT_MAX_BYTES): Promise<Buffer> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new ImageError('unreadable', 'not a regular file');
    size = st.size;
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError('unreadable', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (size > maxBytes) throw new ImageError('too-large', `file is ${sizeText(size)}, above the ${sizeText(maxBytes)} limit`);
  try {
    const buf = await readFile(file);
    if (buf.length > maxBytes) throw new ImageError('too-large', `file is ${sizeText(buf.length)}, above the ${sizeText(maxBytes)} limit`);
    return buf;
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError('unreadable', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function classify(e: unknown): ImageError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/heif|hevc/i.test(msg)) return new ImageError('not-an-image', `this build of sharp cannot decode HEIC/HEIF photos (HEVC) (${msg.trim()})`);
  if (/exceeds pixel limit/i.test(msg)) return new ImageError('too-many-pixels', `image declares more pixels than the limit: ${msg}`);
  if (/unsupported image format|bad seek|not a known file format/i.test(msg)) return new ImageError('not-an-image', 'not an image sharp can read');
  if (/premature end|truncated|unexpected end|not enough data|read error/i.test(msg)) return new ImageError('truncated', `image data is truncated (${msg.trim()})`);
  return new ImageError('corrupt', `image cannot be decoded (${msg.trim()})`);
}

/**
 * Runs a sharp operation; its failure becomes an ImageError. libvips keeps one error buffer for
 * all its threads: when several photos decode at once, a failing one can come back as "Unknown
 * error" (seen about once in 12 runs), so it is run once more to get the real reason.
 */
async function withReason<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (!/unknown error/i.test(e instanceof Error ? e.message : String(e))) throw classify(e);
    try {
      return await op();
    } catch (again) {
      throw classify(again);
    }
  }
}

/** Decodes an image buffer into working RGB pixels; see DecodeOptions. */
export async function decodeImage(input: Buffer, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxSide = opts.maxSide ?? DEFAULT_MAX_SIDE;
  if (input.length === 0) throw new ImageError('empty', 'file is empty (0 bytes)');
  if (input.length > maxBytes) throw new ImageError('too-large', `file is ${sizeText(input.length)}, above the ${sizeText(maxBytes)} limit`);
  // 'truncated' rejects cut-off files, yet keeps camera JPEGs with harmless warnings (extraneous bytes).
  const base = { limitInputPixels: maxPixels, failOn: 'truncated' as const, pages: 1, page: 0 };
  const meta: Metadata = await withReason(() => sharp(input, base).metadata());
  if (!meta.width || !meta.height) throw new ImageError('corrupt', 'image has no size');
  // Orientations 5-8 swap width and height.
  const swap = (meta.orientation ?? 1) >= 5;
  const width = swap ? meta.height : meta.width;
  const height = swap ? meta.width : meta.height;
  if (width * height > maxPixels) {
    throw new ImageError('too-many-pixels', `image is ${width}x${height} pixels, above the ${Math.round(maxPixels / 1e6)} megapixel limit`);
  }
  const long = Math.max(width, height);
  const side = workingSide(long, maxSide);
  const decode = () => {
    let pipeline = sharp(input, base).rotate();
    if (side < long) pipeline = pipeline.resize({ width: side, height: side, fit: 'inside', kernel: 'linear' });
    return pipeline.flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  };
  const { data, info } = await withReason(decode);
  if (info.channels !== 3) throw new ImageError('corrupt', `decoded to ${info.channels} channels`);
  const pixels: RgbImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  return { width, height, pixels, scale: info.width / width, format: meta.format ?? 'unknown' };
}

/**
 * Long side of the working pixels for a photo whose long side is `long`. When halving (or
 * quartering...) lands within 15% under `maxSide`, that size is taken: libjpeg then decodes
 * straight at 1/2, 1/4 or 1/8 scale instead of decoding everything and resampling (a 4000x3000
 * phone photo works at 2000x1500 rather than 2048x1536, at a fraction of the decoding time).
 */
export function workingSide(long: number, maxSide: number): number {
  if (long <= maxSide) return long;
  for (let k = 2; long / k >= maxSide * 0.85; k *= 2) if (long / k <= maxSide) return Math.floor(long / k);
  return maxSide;
}

/** Reads and decodes a file. */
export async function decodeFile(file: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  return decodeImage(await readImageFile(file, opts.maxBytes), opts);
}
