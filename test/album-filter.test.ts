/**
 * The album filter (src/engine/album-filter.ts) and the scan that follows symbolic links
 * (src/engine/album-walk.ts): the full scan and the watcher path (AlbumIndex.updatePaths) take the
 * same photos, by the same rules, on real files.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import sharp from 'sharp';
import { AlbumFilter, compareAlbumPlaces, isInside } from '../src/engine/album-filter';
import { walkAlbum } from '../src/engine/album-walk';
import { DECODABLE_EXTENSIONS, findImages } from '../src/engine/files';
import { anyCaseGlob, IMAGE_EXTENSIONS } from '../src/engine/image-types';
import { AlbumIndex, type IndexOptions } from '../src/engine/index/album';
import { isInside as extensionIsInside } from '../src/extension/paths';
import { demoPhoto, ROOT } from './helpers/photos';

const write = (file: string, data: Buffer | string) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
};
const link = (target: string, at: string) => {
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at);
};

describe('album filter', () => {
  const root = path.resolve('/photos/album');
  const f = (opts: ConstructorParameters<typeof AlbumFilter>[1] = {}, roots = [root]) => new AlbumFilter(roots, opts, ['jpg', 'jpeg', 'png']);
  const at = (rel: string) => path.join(root, rel);

  it('is the one "inside a root" rule of the index and the extension', () => {
    assert.equal(extensionIsInside, isInside);
    assert.deepEqual(f().locate(at('..trip/x.jpg')), { root: 0, rel: '..trip/x.jpg' }, 'a name starting with ".." is inside');
    assert.deepEqual(f().locate(at('..a.jpg')), { root: 0, rel: '..a.jpg' });
    assert.equal(f().locate(`${root}/../x.jpg`), undefined);
    assert.equal(f().locate(root), undefined);
  });

  it('takes decodable formats in any case, nothing else', () => {
    for (const name of ['a.jpg', 'a.JPG', 'a.Jpeg', 'b/c.PnG']) assert.ok(f().accepts(at(name)), name);
    for (const name of ['a.heic', 'a.txt', 'a', 'jpg', 'a.jpg.bak']) assert.ok(!f().accepts(at(name)), name);
  });

  it('leaves out dot-files, dot-folders and node_modules unless told to take hidden files', () => {
    for (const rel of ['.a.jpg', '..a.jpg', '.trip/x.jpg', '..trip/x.jpg', 'a/.thumbs/x.jpg', 'node_modules/p/x.jpg', 'a/node_modules/x.jpg']) {
      assert.ok(!f().accepts(at(rel)), rel);
      assert.ok(f({ includeHidden: true }).accepts(at(rel)), `${rel} with includeHidden`);
    }
    assert.ok(f().accepts(at('a.b/x.jpg')), 'a dot inside a name is not hidden');
  });

  it('excludes files and whole folders by relative or absolute globs, in any case', () => {
    const x = f({ exclude: ['**/Screenshots', 'tmp/**', '*.png', `${root}/private`, './old/'] });
    for (const rel of ['Screenshots/a.jpg', 'x/screenshots/y/a.jpg', 'tmp/a.jpg', 'b.png', 'private/a.jpg', 'old/a.jpg']) assert.ok(!x.accepts(at(rel)), rel);
    for (const rel of ['a.jpg', 'x/tmp/a.jpg', 'x/b.PNG.jpg', 'privateer/a.jpg', 'older/a.jpg']) assert.ok(x.accepts(at(rel)), rel);
    assert.ok(x.skipsFolder(0, 'x/Screenshots') && x.skipsFolder(0, 'tmp') && !x.skipsFolder(0, 'x'));
  });

  it('includes the photos matching an include glob, or below a folder matching one', () => {
    const x = f({ include: ['Photos', '**/*.jpeg', 'best/*'] });
    for (const rel of ['Photos/a.jpg', 'Photos/2024/a.png', 'x/y.jpeg', 'best/a.jpg', 'best/sub/a.jpg']) assert.ok(x.accepts(at(rel)), rel);
    for (const rel of ['a.jpg', 'Photo/a.jpg', 'x/Photos.jpg', 'x/best/a.jpg']) assert.ok(!x.accepts(at(rel)), rel);
    assert.ok(!f({ include: ['Photos'], exclude: ['Photos/private'] }).accepts(at('Photos/private/a.jpg')), 'exclude wins');
  });

  it('gives a file of nested roots to the first root holding it', () => {
    const inner = path.join(root, 'inner');
    assert.deepEqual(f({}, [root, inner]).accepts(path.join(inner, 'a.jpg')), { root: 0, rel: 'inner/a.jpg' });
    assert.deepEqual(f({}, [inner, root]).accepts(path.join(inner, 'a.jpg')), { root: 0, rel: 'a.jpg' });
    assert.ok(f({}, [inner, root]).skipsFolder(1, 'inner'), 'the outer root does not list the inner root\'s photos again');
    assert.ok(f({}, [root, inner]).rootInsideEarlier(1));
    // The globs apply to the path below the root the file belongs to.
    assert.ok(!f({ exclude: ['inner/**'] }, [root, inner]).accepts(path.join(inner, 'a.jpg')));
    assert.ok(f({ exclude: ['inner/**'] }, [inner, root]).accepts(path.join(inner, 'a.jpg')));
  });

  it('orders paths by root, then segment by segment', () => {
    const sorted = ['a/x.jpg', 'a-b/x.jpg', 'a.jpg', 'b.jpg'].map((rel) => ({ root: 0, rel }));
    assert.deepEqual([...sorted].reverse().sort(compareAlbumPlaces), sorted);
    assert.ok(compareAlbumPlaces({ root: 0, rel: 'z.jpg' }, { root: 1, rel: 'a.jpg' }) < 0);
  });

  it('matches the extension lists of package.json: the activation glob, the Explorer menu and the watcher glob', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      activationEvents: string[];
      contributes: { menus: Record<string, { command: string; when?: string }[]> };
    };
    const glob = anyCaseGlob(IMAGE_EXTENSIONS);
    assert.deepEqual(pkg.activationEvents, [`workspaceContains:${glob}`]);
    const isPhoto = picomatch(glob);
    for (const ext of IMAGE_EXTENSIONS) {
      for (const e of [ext, ext.toUpperCase(), ext[0].toUpperCase() + ext.slice(1)]) assert.ok(isPhoto(`a/b/c.${e}`), e);
    }
    assert.ok(!isPhoto('a/b.txt') && !isPhoto('a/b.jpgx'));
    assert.ok(DECODABLE_EXTENSIONS.every((e) => IMAGE_EXTENSIONS.includes(e)), 'the filter takes a subset of what the menus offer');
    // The menu's regex accepts exactly the list: every extension up to 5 letters over the letters of the list is tried.
    const when = pkg.contributes.menus['explorer/context'].find((m) => m.command === 'glimpse.findSimilarFaces')!.when!;
    const m = /resourceExtname =~ \/(.+)\/(\w*)/.exec(when)!;
    const menu = new RegExp(m[1], m[2]);
    const letters = [...new Set(IMAGE_EXTENSIONS.join(''))];
    const accepted: string[] = [];
    const grow = (s: string) => {
      if (s && menu.test(`.${s}`)) accepted.push(s);
      if (s.length < 5) for (const c of letters) grow(s + c);
    };
    grow('');
    assert.deepEqual(accepted.sort(), [...IMAGE_EXTENSIONS].sort());
    assert.ok(IMAGE_EXTENSIONS.every((e) => menu.test(`.${e.toUpperCase()}`)), 'any case');
  });
});

/**
 * A tree holding every case of the filter, with symbolic links of each kind. Returns the album
 * root and every path one could name under it (links followed to a bounded depth, loops included).
 */
async function makeTree(base: string): Promise<{ album: string; names: string[] }> {
  const album = path.join(base, 'album');
  const jpeg = await sharp(demoPhoto('sample1.jpg')).resize(200).jpeg().toBuffer();
  const png = await sharp(jpeg).png().toBuffer();
  for (const rel of ['keep/a.jpg', 'keep/B.JPG', 'keep/c.Jpeg', '..trip/x.jpg', '..a.jpg', '.hidden/h.jpg', '.dot.jpg', 'node_modules/pkg/n.jpg', 'excluded/e.jpg', 'sub/Screenshots/s.jpg', 'nested/n1.jpg', 'z-real/z.jpg', 'loop/l.jpg']) {
    write(path.join(album, rel), jpeg);
  }
  write(path.join(album, 'sub/keep.png'), png);
  write(path.join(album, 'keep/d.heic'), Buffer.alloc(64));
  write(path.join(album, 'keep/notes.txt'), 'not a photo');
  write(path.join(base, 'external/e1.jpg'), jpeg);
  write(path.join(base, 'external/e2.jpg'), jpeg);
  write(path.join(base, 'external/.inside/i.jpg'), jpeg);
  write(path.join(base, 'outside.jpg'), jpeg);
  link('z-real', path.join(album, 'a-link'));
  link('../external', path.join(album, 'ext-link'));
  link('../external/e1.jpg', path.join(album, 'file-link.jpg'));
  link('keep/a.jpg', path.join(album, 'twice-1.jpg'));
  link('keep/a.jpg', path.join(album, 'twice-2.jpg'));
  link('..', path.join(album, 'loop/up'));
  link('../missing.jpg', path.join(album, 'dangling.jpg'));
  const names: string[] = [];
  const visit = (dir: string, depth: number) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      names.push(p);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory() && depth < 4) visit(p, depth + 1);
    }
  };
  visit(album, 0);
  names.push(path.join(base, 'outside.jpg'), path.join(album, 'gone.jpg'), path.join(album, 'keep'));
  return { album, names };
}

describe('album scan and watcher path', function () {
  let work: string;
  let tree: { album: string; names: string[] };
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'glimpse-filter-'));
    tree = await makeTree(work);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const heic = DECODABLE_EXTENSIONS.includes('heic') ? ['keep/d.heic'] : [];
  const dangling = ['album/dangling.jpg: a symbolic link to ../missing.jpg, which does not exist; left out'];
  const configs: { name: string; roots: string[]; opts: IndexOptions; expect: [number, string][]; skipped: string[] }[] = [
    {
      name: 'exclude globs (glimpse.exclude and files.exclude-derived), nested roots',
      roots: ['album', 'album/nested'],
      opts: { exclude: ['excluded/**', '**/Screenshots'] },
      expect: [[0, 'a-link/z.jpg'], [0, 'ext-link/e1.jpg'], [0, 'ext-link/e2.jpg'], [0, 'keep/a.jpg'], [0, 'keep/B.JPG'], [0, 'keep/c.Jpeg'], ...heic.map((h): [number, string] => [0, h]), [0, 'loop/l.jpg'], [0, 'nested/n1.jpg'], [0, 'sub/keep.png']],
      skipped: dangling,
    },
    {
      name: 'include globs',
      roots: ['album'],
      opts: { include: ['keep/**', 'ext-link'], exclude: ['**/c.*'] },
      expect: [[0, 'ext-link/e1.jpg'], [0, 'ext-link/e2.jpg'], [0, 'keep/a.jpg'], [0, 'keep/B.JPG'], ...heic.map((h): [number, string] => [0, h])],
      skipped: [],
    },
    {
      name: 'hidden files taken, inner root first',
      roots: ['album/nested', 'album'],
      opts: { includeHidden: true },
      expect: [
        [0, 'n1.jpg'],
        [1, '..a.jpg'], [1, '..trip/x.jpg'], [1, '.dot.jpg'], [1, '.hidden/h.jpg'], [1, 'a-link/z.jpg'], [1, 'excluded/e.jpg'],
        [1, 'ext-link/.inside/i.jpg'], [1, 'ext-link/e1.jpg'], [1, 'ext-link/e2.jpg'],
        [1, 'keep/a.jpg'], [1, 'keep/B.JPG'], [1, 'keep/c.Jpeg'], ...heic.map((h): [number, string] => [1, h]),
        [1, 'loop/l.jpg'], [1, 'node_modules/pkg/n.jpg'], [1, 'sub/keep.png'], [1, 'sub/Screenshots/s.jpg'],
      ],
      skipped: dangling,
    },
  ];

  for (const c of configs) {
    it(`take the same photos, each file once: ${c.name}`, async () => {
      const roots = c.roots.map((r) => ({ path: path.join(work, r) }));
      const sortKeys = (xs: [number, string][]) => xs.map(([r, rel]) => `${r}:${rel}`).sort();
      const skipped: string[] = [];
      const scanned = await AlbumIndex.open(path.join(work, `cache-scan-${c.name}`), roots, c.opts);
      await scanned.update({ onUnreadable: (p, m) => skipped.push(`${path.relative(work, p)}: ${m}`) });
      const byScan = scanned.all().map((p): [number, string] => [p.root, p.rel]);
      assert.deepEqual(sortKeys(byScan), sortKeys(c.expect));
      assert.deepEqual(skipped, c.skipped, 'a dangling link the filter would take is reported');
      await scanned.close();

      // The watcher path, told every name in the tree (paths through the loop, outside, gone, a folder), last first.
      const watched = await AlbumIndex.open(path.join(work, `cache-watch-${c.name}`), roots, c.opts);
      const notes: string[] = [];
      const stats = await watched.updatePaths([...tree.names].reverse(), { onUnreadable: (p, m) => notes.push(`${path.relative(work, p)}: ${m}`) });
      const byWatch = watched.all().map((p): [number, string] => [p.root, p.rel]);
      assert.deepEqual(sortKeys(byWatch), sortKeys(c.expect));
      assert.equal(stats.files, c.expect.length);
      assert.deepEqual(notes, skipped, 'a dangling link is reported by both');
      for (const p of watched.all()) assert.equal(p.key, path.join(roots[p.root].path, p.rel));
      await watched.close();
    });
  }

  it('findImages (the CLI\'s listing) lists the same photos as the index scan, in album order', async () => {
    const files = await findImages(tree.album, { exclude: ['excluded/**', '**/Screenshots'] });
    const expected = configs[0].expect.map(([, rel]) => rel);
    assert.deepEqual([...files].sort(), [...expected].sort());
    const order = files.map((rel) => ({ root: 0, rel }));
    assert.deepEqual([...order].sort(compareAlbumPlaces), order);
  });

  it('a change seen under another path of a photo updates the photo under its name; removing the name hands it to the next path', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'glimpse-alias-'));
    try {
      const album = path.join(base, 'album');
      write(path.join(album, 'z-real/z.jpg'), await sharp(demoPhoto('sample2.jpg')).resize(300).jpeg().toBuffer());
      link('z-real', path.join(album, 'a-link'));
      const index = await AlbumIndex.open(path.join(base, 'cache'), [{ path: album }]);
      await index.update();
      assert.deepEqual(index.all().map((p) => p.rel), ['a-link/z.jpg']);
      const before = index.all()[0].hash;
      // The real path changes (the event names it): the photo keeps its name, with the new content.
      write(path.join(album, 'z-real/z.jpg'), await sharp(demoPhoto('sample2.jpg')).resize(280).jpeg().toBuffer());
      const changed = await index.updatePaths([path.join(album, 'z-real/z.jpg')]);
      assert.deepEqual([changed.computed, changed.removed], [1, 0]);
      assert.deepEqual(index.all().map((p) => p.rel), ['a-link/z.jpg']);
      assert.notEqual(index.all()[0].hash, before);
      // The link goes: its path's event hands the photo to the real path, without computing it again.
      unlinkSync(path.join(album, 'a-link'));
      const moved = await index.updatePaths([path.join(album, 'a-link/z.jpg')]);
      assert.deepEqual([moved.computed, moved.reused, moved.removed], [0, 1, 0]);
      assert.deepEqual(index.all().map((p) => p.rel), ['z-real/z.jpg']);
      // A second link sorting first takes the name back.
      link('z-real/z.jpg', path.join(album, 'a.jpg'));
      await index.updatePaths([path.join(album, 'a.jpg')]);
      assert.deepEqual(index.all().map((p) => p.rel), ['a.jpg']);
      assert.deepEqual((await index.update()).files, 1, 'the scan agrees');
      assert.deepEqual(index.all().map((p) => p.rel), ['a.jpg']);
      await index.close();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('albums with symbolic links (real photos)', function () {
  let work: string;
  beforeEach(() => (work = mkdtempSync(path.join(tmpdir(), 'glimpse-links-'))));
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  /** Full-size demo photos in a library folder outside the album. */
  function library(names: string[]): string {
    const lib = path.join(work, 'library');
    mkdirSync(lib, { recursive: true });
    for (const n of names) copyFileSync(demoPhoto(n), path.join(lib, n));
    return lib;
  }

  async function index(album: string, notes?: string[]) {
    const idx = await AlbumIndex.open(path.join(work, 'cache'), [{ path: album }]);
    const stats = await idx.update({ onUnreadable: (p, m) => notes?.push(`${path.relative(work, p)}: ${m}`) });
    return { idx, stats };
  }

  it('indexes an album of symlinked photos', async () => {
    const lib = library(['sample1.jpg', 'sample2.jpg', 'sample3.jpg']);
    const album = path.join(work, 'album');
    mkdirSync(album);
    for (const [i, n] of ['sample1.jpg', 'sample2.jpg', 'sample3.jpg'].entries()) symlinkSync(path.join(lib, n), path.join(album, `IMG_${i}.JPG`));
    const { idx, stats } = await index(album);
    assert.deepEqual([stats.files, stats.computed, stats.failed], [3, 3, 0]);
    assert.deepEqual(idx.all().map((p) => p.rel).sort(), ['IMG_0.JPG', 'IMG_1.JPG', 'IMG_2.JPG']);
    assert.equal(idx.get(path.join(album, 'IMG_0.JPG'))!.faces.length, 3, 'sample1 holds three faces');
    assert.ok(idx.all().every((p) => p.faces.length > 0));
    await idx.close();
  });

  it('indexes a symlinked folder pointing outside the album, under the link\'s path', async () => {
    const lib = library(['sample1.jpg', 'sample4.jpg']);
    const album = path.join(work, 'album');
    write(path.join(album, 'home.jpg'), readFileSync(demoPhoto('sample2.jpg')));
    symlinkSync(lib, path.join(album, 'Trip'));
    const { idx, stats } = await index(album);
    assert.deepEqual([stats.files, stats.failed], [3, 0]);
    assert.deepEqual(idx.all().map((p) => p.rel).sort(), ['Trip/sample1.jpg', 'Trip/sample4.jpg', 'home.jpg']);
    assert.ok(idx.all().every((p) => p.faces.length > 0));
    assert.deepEqual(idx.links, [{ path: path.join(album, 'Trip'), target: lib, folder: true }], 'the place to watch beyond the root');
    // A photo added there is picked up when the event names the link path.
    copyFileSync(demoPhoto('sample5.jpg'), path.join(lib, 'new.jpg'));
    const added = await idx.updatePaths([path.join(album, 'Trip', 'new.jpg')]);
    assert.deepEqual([added.files, added.computed], [1, 1]);
    assert.ok(idx.get(path.join(album, 'Trip', 'new.jpg'))!.faces.length > 0);
    await idx.close();
  });

  it('ends on a symlink loop, each photo once', async () => {
    const album = path.join(work, 'album');
    write(path.join(album, 'a/one.jpg'), readFileSync(demoPhoto('sample1.jpg')));
    write(path.join(album, 'b/two.jpg'), readFileSync(demoPhoto('sample2.jpg')));
    // a/back leads to the album, b/toA to a: fast-glob's followSymbolicLinks never finishes on this.
    symlinkSync('..', path.join(album, 'a', 'back'));
    symlinkSync('../a', path.join(album, 'b', 'toA'));
    symlinkSync('.', path.join(album, 'self'));
    const { idx, stats } = await index(album);
    assert.deepEqual([stats.files, stats.computed], [2, 2]);
    assert.deepEqual(idx.all().map((p) => p.rel).sort(), ['a/one.jpg', 'b/two.jpg']);
    await idx.close();
  });

  it('takes two links to one file as one photo', async () => {
    const lib = library(['sample3.jpg']);
    const album = path.join(work, 'album');
    mkdirSync(album);
    symlinkSync(path.join(lib, 'sample3.jpg'), path.join(album, 'b.jpg'));
    symlinkSync(path.join(lib, 'sample3.jpg'), path.join(album, 'a.jpg'));
    const { idx, stats } = await index(album);
    assert.deepEqual([stats.files, stats.computed], [1, 1]);
    assert.deepEqual(idx.all().map((p) => p.rel), ['a.jpg'], 'the first path in album order names it');
    const listing = await walkAlbum(idx.filter);
    assert.deepEqual(listing.aliases.map((a) => a.rel), ['b.jpg']);
    await idx.close();
  });

  it('reports a dangling link in one line and indexes the rest', async () => {
    const album = path.join(work, 'album');
    write(path.join(album, 'ok.jpg'), readFileSync(demoPhoto('sample6.jpg')));
    symlinkSync(path.join(work, 'unplugged-disk', 'x.jpg'), path.join(album, 'gone.jpg'));
    symlinkSync(path.join(work, 'unplugged-disk'), path.join(album, 'Backup'));
    const notes: string[] = [];
    const { idx, stats } = await index(album, notes);
    assert.deepEqual([stats.files, stats.failed], [1, 0]);
    assert.deepEqual(idx.all().map((p) => p.rel), ['ok.jpg']);
    assert.deepEqual(notes.sort(), [
      `album/Backup: a symbolic link to ${path.join(work, 'unplugged-disk')}, which does not exist; left out`,
      `album/gone.jpg: a symbolic link to ${path.join(work, 'unplugged-disk', 'x.jpg')}, which does not exist; left out`,
    ]);
    assert.ok(notes.every((n) => !n.includes('\n')));
    await idx.close();
  });
});
