/**
 * The full scan of an album: every file the album filter accepts, symbolic links followed
 * wherever they point. fast-glob's followSymbolicLinks was measured to follow a link loop until
 * the system gives up (a folder holding a link to its parent lists its photo 41 times; two such
 * links never finish), so the scan is a small walker of its own: it keeps the real path of every
 * folder on the way down and does not enter a folder already on it, and lists each distinct file
 * once, by the first of its paths in album order (compareAlbumPlaces).
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { relativeInside, type AlbumFilter, type AlbumPlace } from './album-filter';

/** A photo path of the album, with the real path of the file it names. */
export interface AlbumEntry extends AlbumPlace {
  /** Absolute path under its root (symbolic links not resolved): the photo's key. */
  key: string;
  /** The file's real path (every link resolved): two entries with one real path are one photo. */
  real: string;
}

/** A symbolic link the scan followed to a place outside every root (file watchers of the roots do not see changes there). */
export interface LinkedPlace {
  /** The link's path under its root. */
  path: string;
  /** Where it leads (real path). */
  target: string;
  folder: boolean;
}

export interface AlbumListing {
  /** The album's photos in album order, one per distinct file. */
  photos: AlbumEntry[];
  /** Further accepted paths to files already listed (a second link to one file), in album order. */
  aliases: AlbumEntry[];
  links: LinkedPlace[];
}

/** Told about each path left out because it cannot be read: an unreadable folder, a dangling or unreadable link. */
export type SkipReport = (path: string, message: string) => void;

/** Real paths of the folders from the root down to one folder: a folder already on it is not entered again. */
interface Chain {
  real: string;
  up?: Chain;
}

function onChain(chain: Chain | undefined, real: string): boolean {
  for (let c = chain; c; c = c.up) if (c.real === real) return true;
  return false;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Why a link cannot be followed, in a few words. */
async function brokenLink(abs: string, e: unknown): Promise<string> {
  if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') {
    const to = await readlink(abs).catch(() => '?');
    return `a symbolic link to ${to}, which does not exist; left out`;
  }
  return `cannot follow this symbolic link (${code(e)}); left out`;
}

export async function walkAlbum(filter: AlbumFilter, report?: SkipReport): Promise<AlbumListing> {
  const realRoots = await Promise.all(filter.roots.map((r) => realpath(r).catch(() => undefined)));
  const outsideRoots = (real: string) => !realRoots.some((r) => r !== undefined && (r === real || relativeInside(r, real) !== undefined));
  const links: LinkedPlace[] = [];

  /** The photos below `dir` (whose folders passed the filter; `included` when one matched an include glob), in album order. */
  async function walk(root: number, dir: string, rel: string, chain: Chain, included: boolean): Promise<AlbumEntry[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      report?.(dir, `cannot read this folder (${code(e)}); its photos are left out`);
      return [];
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const sep = dir.endsWith(path.sep) ? '' : path.sep;
    const realSep = chain.real.endsWith(path.sep) ? '' : path.sep;
    // Plain files are decided at once; folders and links wait on the file system, all at the same time.
    const parts: (AlbumEntry | Promise<AlbumEntry[]>)[] = [];
    for (const d of entries) {
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      if (d.isFile()) {
        if (filter.acceptsFile(root, childRel, included)) parts.push({ key: dir + sep + d.name, root, rel: childRel, real: chain.real + realSep + d.name });
      } else if (d.isDirectory()) {
        parts.push(folder(root, dir + sep + d.name, childRel, chain.real + realSep + d.name, chain, included));
      } else if (d.isSymbolicLink()) {
        parts.push(linked(root, dir + sep + d.name, childRel, chain, included));
      }
    }
    const out: AlbumEntry[] = [];
    for (const p of parts) {
      if (p instanceof Promise) out.push(...(await p));
      else out.push(p);
    }
    return out;
  }

  function folder(root: number, abs: string, rel: string, real: string, chain: Chain, included: boolean): Promise<AlbumEntry[]> {
    if (filter.skipsFolder(root, rel) || onChain(chain, real)) return Promise.resolve([]);
    return walk(root, abs, rel, { real, up: chain }, included || filter.includesFolder(root, rel));
  }

  async function linked(root: number, abs: string, rel: string, chain: Chain, included: boolean): Promise<AlbumEntry[]> {
    // Worth a look (and a word when broken) only where a folder or a photo of this name would be taken.
    if (filter.skipsFolder(root, rel)) return [];
    let real: string;
    let isFolder: boolean;
    try {
      const st = await stat(abs);
      real = await realpath(abs);
      isFolder = st.isDirectory();
      if (!isFolder && !st.isFile()) return [];
    } catch (e) {
      if (filter.acceptsFile(root, rel, included) || !path.extname(abs)) report?.(abs, await brokenLink(abs, e));
      return [];
    }
    const photo = !isFolder && filter.acceptsFile(root, rel, included);
    if (outsideRoots(real) && (isFolder || photo)) links.push({ path: abs, target: real, folder: isFolder });
    if (isFolder) return folder(root, abs, rel, real, chain, included);
    return photo ? [{ key: abs, root, rel, real }] : [];
  }

  const found: AlbumEntry[] = [];
  for (let i = 0; i < filter.roots.length; i++) {
    if (filter.rootInsideEarlier(i)) continue;
    const realRoot = realRoots[i];
    if (realRoot === undefined) {
      // A missing root reads as an unreadable folder: say so the same way.
      await readdir(filter.roots[i]).catch((e) => report?.(filter.roots[i], `cannot read this folder (${code(e)}); its photos are left out`));
      continue;
    }
    found.push(...(await walk(i, filter.roots[i], '', { real: realRoot }, !filter.hasInclude)));
  }
  const photos: AlbumEntry[] = [];
  const aliases: AlbumEntry[] = [];
  const seen = new Set<string>();
  for (const e of found) {
    if (seen.has(e.real)) aliases.push(e);
    else {
      seen.add(e.real);
      photos.push(e);
    }
  }
  return { photos, aliases, links };
}

/**
 * The real path of the file at album path `abs` (place `where`) when the scan would reach it: it
 * exists, is a file, and no folder on its way is entered twice (a path through a link loop is not
 * one the scan lists). Undefined otherwise; a dangling link is reported.
 */
export async function realPathOf(filter: AlbumFilter, where: AlbumPlace, report?: SkipReport): Promise<string | undefined> {
  const root = filter.roots[where.root];
  const abs = path.join(root, where.rel);
  const realRoot = await realpath(root).catch(() => undefined);
  if (realRoot === undefined) return undefined;
  // The folders first: a path through a loop is not the scan's, whatever it leads to.
  const folders = where.rel.split('/').slice(0, -1);
  const realDir = await realpath(path.dirname(abs)).catch(() => undefined);
  if (realDir === undefined) return undefined;
  // No link on the way (the usual case): no loop either.
  if (realDir !== path.join(realRoot, ...folders)) {
    const seen = new Set([realRoot]);
    let dir = root;
    for (const s of folders) {
      dir = path.join(dir, s);
      const r = await realpath(dir).catch(() => undefined);
      if (r === undefined || seen.has(r)) return undefined;
      seen.add(r);
    }
  }
  try {
    if (!(await stat(abs)).isFile()) return undefined;
    return await realpath(abs);
  } catch (e) {
    const link = await lstat(abs).then((st) => st.isSymbolicLink(), () => false);
    if (link) report?.(abs, await brokenLink(abs, e));
    return undefined;
  }
}
