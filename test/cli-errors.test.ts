/** The CLI's edge: bad queries and cache folders said in one line, formats left out listed, one store per machine. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DECODABLE_EXTENSIONS } from '../src/engine/files';
import { makeAlbum } from './helpers/album';
import { demoPhoto, ROOT } from './helpers/photos';

const exec = promisify(execFile);
const CLI = path.join(ROOT, 'dist', 'cli.js');

describe('CLI errors and the shared cache', function () {
  let work: string;
  let album: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'glimpse-cli-edge-'));
    album = path.join(work, 'album');
    mkdirSync(path.join(album, 'sub'), { recursive: true });
    await makeAlbum(path.join(album, 'sub'), 4);
    copyFileSync(demoPhoto('sample1.jpg'), path.join(album, 'top.jpg'));
    writeFileSync(path.join(album, 'phone.HEIC'), Buffer.alloc(64));
    env = { ...process.env, XDG_CACHE_HOME: path.join(work, 'xdg') };
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const run = (args: string[]) =>
    exec(process.execPath, [CLI, ...args], { env, maxBuffer: 64 << 20 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('refuses a search query that is not a photo, empty, too large or a folder, in one line, before indexing anything', async () => {
    const cache = path.join(work, 'never-made');
    const text = path.join(work, 'notes.jpg');
    writeFileSync(text, 'shopping list\n');
    const empty = path.join(work, 'empty.jpg');
    writeFileSync(empty, '');
    const cut = path.join(work, 'cut.jpg');
    writeFileSync(cut, readFileSync(demoPhoto('sample3.jpg')).subarray(0, 3000));
    const cases: [string[], RegExp][] = [
      [[text], /^glimpse: the query .*notes\.jpg cannot be used: not an image sharp can read$/],
      [[empty], /^glimpse: the query .*empty\.jpg cannot be used: file is empty \(0 bytes\)$/],
      [[cut], /^glimpse: the query .*cut\.jpg cannot be used: image data is truncated/],
      [[demoPhoto('sample1.jpg'), '--max-bytes', '1000'], /^glimpse: the query .*sample1\.jpg cannot be used: file is \d+ KB, above the 1 KB limit$/],
      [[album], /^glimpse: .*album is a folder; search needs a photo of the person to look for$/],
      [[path.join(work, 'missing.jpg')], /^glimpse: no such file: .*missing\.jpg$/],
    ];
    for (const [query, expected] of cases) {
      const [q, ...flags] = query;
      const r = await run(['search', q, album, '--cache', cache, ...flags]);
      assert.equal(r.code, 2, `${q}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trim(), expected);
      assert.equal(r.stdout, '');
    }
    assert.ok(!existsSync(cache), 'nothing was indexed');
  });

  it('says in one line when --cache names a file or a folder that cannot be made', async () => {
    const file = path.join(work, 'a-file');
    writeFileSync(file, 'x');
    const asFile = await run(['index', album, '--cache', file]);
    assert.equal(asFile.code, 1);
    assert.equal(asFile.stderr, `glimpse: cannot use the face cache in ${file}: it is a file, not a folder (ENOTDIR)\n`);
    const under = await run(['index', album, '--cache', path.join(file, 'cache')]);
    assert.equal(under.code, 1);
    assert.equal(under.stderr, `glimpse: cannot create the face cache in ${path.join(file, 'cache')}: a part of its path is a file (ENOTDIR)\n`);
    const proc = await run(['index', album, '--cache', '/proc/glimpse-cache']);
    assert.equal(proc.code, 1);
    assert.match(proc.stderr, /^glimpse: cannot create the face cache in \/proc\/glimpse-cache: .*\(E[A-Z]+\)\n$/);
  });

  it('lists the files left out for their format, with the reason', async function () {
    if (DECODABLE_EXTENSIONS.includes('heic')) this.skip(); // this sharp decodes HEIC: nothing is left out
    const faces = await run(['faces', album, '--json']);
    assert.equal(faces.code, 0, faces.stderr);
    assert.match(faces.stderr, /^phone\.HEIC: left out: this build of sharp cannot decode HEIC photos \(HEIC\/HEIF\)$/m);
    assert.ok(!('phone.HEIC' in (JSON.parse(faces.stdout) as { files: object }).files));
    const index = await run(['index', album, '--cache', path.join(work, 'c1')]);
    assert.match(index.stderr, /^phone\.HEIC: left out: this build of sharp cannot decode HEIC photos/m);
  });

  it('keeps one store per machine by default: a sub-folder of an indexed album, or a copy of it, computes nothing', async () => {
    const whole = await run(['index', album, '--json', '--quiet']);
    assert.equal(whole.code, 0, whole.stderr);
    const w = JSON.parse(whole.stdout) as { files: number; computed: number };
    assert.ok(existsSync(path.join(work, 'xdg', 'glimpse', 'faces.sqlite')));
    const sub = await run(['index', path.join(album, 'sub'), '--json', '--quiet']);
    const s = JSON.parse(sub.stdout) as { files: number; computed: number; reused: number };
    assert.deepEqual([s.files, s.computed, s.reused], [4, 0, 4]);
    const copy = path.join(work, 'copy');
    mkdirSync(copy);
    copyFileSync(path.join(album, 'top.jpg'), path.join(copy, 'renamed.jpg'));
    const c = JSON.parse((await run(['index', copy, '--json', '--quiet'])).stdout) as { computed: number; reused: number };
    assert.deepEqual([c.computed, c.reused], [0, 1]);
    assert.ok(w.computed >= 5);
  });
});
