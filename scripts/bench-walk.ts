/**
 * The album scan's walker (src/engine/album-walk.ts) against fast-glob, the scan it replaced (which
 * did not follow symbolic links), on a generated tree of empty photo files. Prints one JSON line
 * per figure set and a table. Not a test: nothing is asserted. Timings are noisy on a shared machine.
 *
 *   node scripts/run-ts.mjs scripts/bench-walk.ts [--files 10000] [--per-folder 50] [--runs 7]
 */
import fg from 'fast-glob';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { walkAlbum } from '../src/engine/album-walk';
import { albumFilter, DECODABLE_EXTENSIONS } from '../src/engine/files';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const files = flag('files', 10_000);
const perFolder = flag('per-folder', 50);
const runs = flag('runs', 7);

/** year/month/event folders of `perFolder` photos each, with a few non-photos, a dot-folder and node_modules. */
function makeTree(root: string): void {
  for (let i = 0; i < files; i++) {
    const folder = Math.floor(i / perFolder);
    const dir = path.join(root, `${2000 + (folder % 20)}`, `${String((folder >> 4) % 12).padStart(2, '0')}`, `event-${folder}`);
    if (i % perFolder === 0) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'notes.txt'), '');
    }
    writeFileSync(path.join(dir, `IMG_${i}.${i % 3 ? 'jpg' : 'JPG'}`), '');
  }
  mkdirSync(path.join(root, '.thumbnails'));
  mkdirSync(path.join(root, 'node_modules'));
}

async function time(fn: () => Promise<number>): Promise<{ ms: number[]; found: number }> {
  const ms: number[] = [];
  let found = 0;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    found = await fn();
    ms.push(performance.now() - t);
  }
  return { ms, found };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'glimpse-bench-walk-'));
  try {
    const album = path.join(work, 'album');
    makeTree(album);
    // The same tree again, reached through a symlinked folder (what fast-glob could not do safely).
    const linked = path.join(work, 'linked');
    mkdirSync(linked);
    symlinkSync(album, path.join(linked, 'photos'));
    const glob = `**/*.{${DECODABLE_EXTENSIONS.join(',')}}`;
    const fastGlob = (cwd: string) => async () =>
      (await fg(glob, { cwd, caseSensitiveMatch: false, dot: false, followSymbolicLinks: false, onlyFiles: true, suppressErrors: true, ignore: ['**/node_modules/**'] })).length;
    const walker = (root: string) => async () => (await walkAlbum(albumFilter([root]))).photos.length;
    const rows: Record<string, unknown>[] = [];
    for (const [name, fn] of [
      ['fast-glob (no links followed)', fastGlob(album)],
      ['album walker', walker(album)],
      ['album walker, through a symlinked folder', walker(linked)],
    ] as const) {
      await fn(); // warm the file system cache
      const { ms, found } = await time(fn);
      const row = { bench: 'walk', scan: name, files, found, medianMs: Math.round(median(ms)), minMs: Math.round(Math.min(...ms)), runs };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
    console.table(rows.map(({ scan, found, medianMs, minMs }) => ({ scan, found, medianMs, minMs })));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

void main();
