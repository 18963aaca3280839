/**
 * The album filter: the one rule deciding which files are photos of the album. The full scan
 * (album-walk.ts), the file-watcher path (AlbumIndex.updatePaths) and the extension's path checks
 * all ask it, so that none of them can take a file the others leave out. Pure path decisions: no
 * file system access, no `vscode` and no sharp import (the extension host uses it too).
 */
import path from 'node:path';
import picomatch from 'picomatch';

export interface FilterOptions {
  /** Globs (relative to each root) of the photos to take; empty or absent: every photo. */
  include?: string[];
  /** Globs (relative to each root, or absolute) of files or folders to leave out. */
  exclude?: string[];
  /** Take dot-files, dot-folders and node_modules too (default false). */
  includeHidden?: boolean;
}

/** Where a path lies in the album: the index of the first root holding it, and the path relative to it (forward slashes). */
export interface AlbumPlace {
  root: number;
  rel: string;
}

const toPosix = (p: string) => (path.sep === '/' ? p : p.split(path.sep).join('/'));

/**
 * `file` relative to `root` (forward slashes) when it lies below it, after resolving `.` and `..`;
 * undefined for the root itself and anything outside. Only a first segment that is exactly ".."
 * leaves the root: "..trip/x.jpg" and "..a.jpg" are inside.
 */
export function relativeInside(root: string, file: string): string | undefined {
  const rel = path.relative(path.resolve(root), path.resolve(file));
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
  return toPosix(rel);
}

/** True when `file` is inside one of `roots` (after resolving `..`), never a root itself. */
export function isInside(file: string, roots: readonly string[]): boolean {
  return roots.some((r) => relativeInside(r, file) !== undefined);
}

/**
 * The album's order: by root, then path segment by segment (a folder's photos before a sibling
 * whose name extends the folder's: "a/x.jpg" before "a-b/x.jpg"), each segment by UTF-16 code
 * units. The scan lists photos in this order; of several paths to one file, the first names it.
 */
export function compareAlbumPlaces(a: AlbumPlace, b: AlbumPlace): number {
  if (a.root !== b.root) return a.root - b.root;
  const x = a.rel.split('/');
  const y = b.rel.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

type Matcher = (p: string) => boolean;

/** One matcher for globs relative to the root and one for absolute ones; patterns that do not compile are set aside. */
function compile(globs: readonly string[] | undefined, problems: string[]): { rel?: Matcher; abs?: Matcher } {
  const rel: Matcher[] = [];
  const abs: Matcher[] = [];
  for (const raw of globs ?? []) {
    if (typeof raw !== 'string') continue;
    let g = raw.trim().replace(/\\/g, '/');
    if (g.startsWith('./')) g = g.slice(2);
    while (g.length > 1 && g.endsWith('/')) g = g.slice(0, -1);
    if (!g) continue;
    try {
      // The settings' globs follow VS Code's: `*` takes dot-names too; matched in any case, like the scan always did.
      (path.isAbsolute(g) || path.posix.isAbsolute(g) ? abs : rel).push(picomatch(g, { dot: true, nocase: true }));
    } catch (e) {
      problems.push(`${raw}: ${(e as Error).message}`);
    }
  }
  const any = (ms: Matcher[]): Matcher | undefined => (ms.length ? (p) => ms.some((m) => m(p)) : undefined);
  return { rel: any(rel), abs: any(abs) };
}

export class AlbumFilter {
  /** Absolute, resolved root folders, in the order that decides which root a nested file belongs to. */
  readonly roots: readonly string[];
  /** Globs that could not be compiled (left out of the filter), with the reason. */
  readonly problems: string[] = [];
  private readonly extensions: ReadonlySet<string>;
  private readonly include: { rel?: Matcher; abs?: Matcher };
  private readonly exclude: { rel?: Matcher; abs?: Matcher };

  /**
   * @param extensions the photo extensions taken, lower case without the dot (the engine passes
   *   DECODABLE_EXTENSIONS: what the installed sharp reads); matched in any case.
   */
  constructor(
    roots: readonly string[],
    readonly options: FilterOptions,
    extensions: readonly string[],
  ) {
    this.roots = roots.map((r) => path.resolve(r));
    this.extensions = new Set(extensions.map((e) => e.toLowerCase()));
    this.include = compile(options.include, this.problems);
    this.exclude = compile(options.exclude, this.problems);
  }

  /** The first root holding `file` (a file belongs to the first root holding it), and its path there; undefined outside every root. */
  locate(file: string): AlbumPlace | undefined {
    for (let i = 0; i < this.roots.length; i++) {
      const rel = relativeInside(this.roots[i], file);
      if (rel !== undefined) return { root: i, rel };
    }
    return undefined;
  }

  /** Where `file` is in the album when it is a photo of the album by every rule, else undefined. */
  accepts(file: string): AlbumPlace | undefined {
    const place = this.locate(file);
    return place && this.acceptsIn(place.root, place.rel) ? place : undefined;
  }

  /** The whole rule for a path `rel` below root `root`: each folder on the way, then the file itself. */
  acceptsIn(root: number, rel: string): boolean {
    const segments = rel.split('/');
    let folder = '';
    let included = false;
    for (let i = 0; i < segments.length - 1; i++) {
      folder = folder ? `${folder}/${segments[i]}` : segments[i];
      if (this.skipsFolder(root, folder)) return false;
      included ||= this.includesFolder(root, folder);
    }
    return this.acceptsFile(root, rel, included);
  }

  /**
   * The file's own part of the rule, for a file whose folders passed skipsFolder(); `included`
   * when one of them matched an include glob (includesFolder). The scan asks this for each file,
   * having checked the folders on its way down.
   */
  acceptsFile(root: number, rel: string, included: boolean): boolean {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (!this.extensions.has(path.extname(name).slice(1).toLowerCase())) return false;
    if (!this.options.includeHidden && name.startsWith('.')) return false;
    if (this.matches(this.exclude, root, rel)) return false;
    return included || !this.hasInclude || this.matches(this.include, root, rel);
  }

  /** True when the folder `rel` matches an include glob (every photo below it is included). */
  includesFolder(root: number, rel: string): boolean {
    return !this.hasInclude || this.matches(this.include, root, rel);
  }

  /** True when include globs are set (else every photo is included). */
  get hasInclude(): boolean {
    return !!(this.include.rel || this.include.abs);
  }

  /**
   * True when nothing below the folder `rel` of root `root` is a photo of that root: a dot-folder,
   * node_modules, an excluded folder, or an earlier root (whose photos are its own). The scan does
   * not enter such a folder, and acceptsIn() applies the same test to each folder of a path.
   */
  skipsFolder(root: number, rel: string): boolean {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (!this.options.includeHidden && (name.startsWith('.') || name === 'node_modules')) return true;
    if (this.matches(this.exclude, root, rel)) return true;
    const abs = path.join(this.roots[root], rel);
    for (let j = 0; j < root; j++) if (this.roots[j] === abs) return true;
    return false;
  }

  /** True when root `root` lies inside (or is) an earlier root: all its photos belong to that one. */
  rootInsideEarlier(root: number): boolean {
    const r = this.roots[root];
    for (let j = 0; j < root; j++) if (this.roots[j] === r || relativeInside(this.roots[j], r) !== undefined) return true;
    return false;
  }

  private matches(m: { rel?: Matcher; abs?: Matcher }, root: number, rel: string): boolean {
    return !!m.rel?.(rel) || !!m.abs?.(toPosix(path.join(this.roots[root], rel)));
  }
}
