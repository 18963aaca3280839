/**
 * Glimpse end to end in a real VS Code (code-server 4.100.3 driven by Debian's chromium, see
 * README.md here): the linux-x64 VSIX is checked and installed, then a user's session on a photo
 * album is played through the workbench; finally the extension-host suite (suite/*.host.ts)
 * runs inside the extension host.
 *
 *   npm run test:e2e        (packages the VSIX, compiles, runs every *.e2e.ts)
 *
 * The VSIX is GLIMPSE_VSIX when set, else glimpse-<version>-<target>.vsix at the repository root,
 * packaged here (node scripts/package.mjs) when missing or older than the bundles. The album
 * comes from ../shared/eval when it is there, else from face-api's demo photos (albums.ts).
 * Screenshots: test-results/vscode/.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { FrameLocator, Page } from 'playwright-core';
import sharp from 'sharp';
import { EVAL_DIR } from '../helpers/photos';
import { makeTestAlbum, type AlbumPerson, type TestAlbum } from './albums';
import { explorerContextMenu, explorerItem, openWorkbench, runCommand, runExtensionTests, screenshot, webviewFrame, type Workbench } from './browser';
import { ensureCodeServer, REPO_ROOT, startCodeServer, type RunningCodeServer } from './code-server';

const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; publisher: string };
const TARGET = `${process.platform}-${process.arch}`;

function note(message: string): void {
  process.stderr.write(`[glimpse-e2e] ${message}\n`);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The VSIX under test: GLIMPSE_VSIX, or the repository's, packaged when missing or stale. */
function vsixUnderTest(): string {
  if (process.env.GLIMPSE_VSIX) return path.resolve(process.env.GLIMPSE_VSIX);
  const vsix = path.join(REPO_ROOT, `${manifest.name}-${manifest.version}-${TARGET}.vsix`);
  const inputs = ['dist/extension.js', 'dist/index-worker.js', 'dist/webview.js', 'dist/webview.css', 'package.json', '.vscodeignore', 'models/manifest.json'];
  const built = fs.existsSync(vsix) ? fs.statSync(vsix).mtimeMs : 0;
  const stale = inputs.filter((f) => !fs.existsSync(path.join(REPO_ROOT, f)) || fs.statSync(path.join(REPO_ROOT, f)).mtimeMs > built);
  if (stale.length) {
    note(`packaging ${path.basename(vsix)} (${built ? `older than ${stale.join(', ')}` : 'missing'})`);
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'package.mjs'), `--target=${TARGET}`, `--out=${vsix}`], { cwd: REPO_ROOT, stdio: 'inherit' });
    assert.equal(r.status, 0, 'packaging failed');
  }
  return vsix;
}

interface ZipEntry {
  name: string;
  size: number;
  /** The entry's bytes, uncompressed. */
  read(): Buffer;
}

/** The entries of a zip (a VSIX), from its central directory; stored and deflated entries only. */
function zipEntries(file: string): ZipEntry[] {
  const buf = fs.readFileSync(file);
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, `${file} is not a zip`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50, 'bad central directory');
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLength = buf.readUInt16LE(at + 28);
    const extra = buf.readUInt16LE(at + 30);
    const comment = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLength);
    out.push({
      name,
      size,
      read: () => {
        const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
        const data = buf.subarray(start, start + compressed);
        if (method === 0) return Buffer.from(data);
        assert.equal(method, 8, `${name}: compression method ${method}`);
        return zlib.inflateRawSync(data);
      },
    });
    at += 46 + nameLength + extra + comment;
  }
  return out;
}

/** Loads the native modules of an unpacked VSIX in a plain Node process outside the repository, and runs each once. */
const LOAD_CHECK = `
const ext = process.argv[1];
const sharp = require(ext + '/node_modules/sharp');
const ort = require(ext + '/node_modules/onnxruntime-node');
const sqlite3 = require(ext + '/node_modules/sqlite3');
(async () => {
  const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#808080' } }).png().toBuffer();
  const { width } = await sharp(png).metadata();
  const session = await ort.InferenceSession.create(ext + '/models/mobilefacenet.onnx');
  const db = new sqlite3.Database(':memory:');
  const version = await new Promise((resolve, reject) => db.get('select sqlite_version() as v', (e, row) => (e ? reject(e) : resolve(row.v))));
  db.close();
  console.log(JSON.stringify({ sharp: sharp.versions.sharp, vips: sharp.versions.vips, width, inputs: session.inputNames, sqlite: version }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function findFiles(dir: string, test: (name: string) => boolean, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, test, out);
    else if (test(e.name)) out.push(p);
  }
  return out;
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface ShownResult {
  index: number;
  name: string;
  score: string;
  thumbLoaded: boolean;
  img?: Rect;
  box?: Rect;
}

/** The result cells the grid shows, in order. */
async function shownResults(frame: FrameLocator): Promise<ShownResult[]> {
  const cells = await frame.locator('.grid .cell').evaluateAll((elements) =>
    elements.map((cell) => {
      const rect = (el: Element | null): Rect | undefined => {
        if (!el) return undefined;
        const r = el.getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height };
      };
      const img = cell.querySelector<HTMLImageElement>('img.thumb');
      const photo = cell.querySelector('.photo');
      return {
        index: Number((cell as HTMLElement).dataset.index),
        name: cell.querySelector('.name')?.textContent ?? '',
        score: cell.querySelector('.score')?.textContent ?? '',
        thumbLoaded: !!img && img.complete && img.naturalWidth > 0 && !photo?.classList.contains('pending'),
        img: rect(img),
        box: rect(cell.querySelector('.match-box')),
      };
    }),
  );
  return cells.sort((a, b) => a.index - b.index);
}

async function matchCount(frame: FrameLocator): Promise<number> {
  const text = (await frame.locator('h1.count').textContent()) ?? '';
  const m = /^([\d,]+) match/.exec(text.trim());
  assert.ok(m, `no match count in "${text}"`);
  return Number(m[1].replace(/,/g, ''));
}

/**
 * Waits until the gallery shows the final results of a search for `person`: the search is
 * complete, every result shown has its thumbnail, and the query photo is named `queryName`.
 */
async function settledResults(frame: FrameLocator, queryName: string, timeoutMs = 60_000): Promise<ShownResult[]> {
  const deadline = Date.now() + timeoutMs;
  await frame.locator('.query-name').filter({ hasText: queryName }).waitFor({ timeout: timeoutMs });
  for (;;) {
    const busy = await frame.locator('main.results').getAttribute('aria-busy');
    const shown = await shownResults(frame);
    if (busy === 'false' && shown.length > 0 && shown.every((r) => r.thumbLoaded)) return shown;
    if (Date.now() > deadline) throw new Error(`results for ${queryName} did not settle: busy ${busy}, ${JSON.stringify(shown.map((r) => [r.name, r.thumbLoaded]))}`);
    await sleep(200);
  }
}

/** The top results are exactly the person's photos (any order among them), each with its face boxed inside the thumbnail. */
function assertPerson(shown: ShownResult[], person: AlbumPerson): void {
  const expected = person.photos.map((p) => path.basename(p)).sort();
  const top = shown.slice(0, expected.length).map((r) => r.name);
  assert.deepEqual([...top].sort(), expected, `top ${expected.length} results: ${shown.map((r) => `${r.name} ${r.score}`).join(', ')}`);
  assert.equal(top[0], path.basename(person.query), 'the query photo itself comes first');
  for (const r of shown) {
    assert.ok(r.img && r.box, `${r.name}: no thumbnail or no highlight`);
    assert.ok(r.box.width >= 3 && r.box.height >= 3, `${r.name}: highlight of ${r.box.width}x${r.box.height} px`);
    const tol = 1.5;
    assert.ok(
      r.box.x >= r.img.x - tol && r.box.y >= r.img.y - tol && r.box.x + r.box.width <= r.img.x + r.img.width + tol && r.box.y + r.box.height <= r.img.y + r.img.height + tol,
      `${r.name}: highlight ${JSON.stringify(r.box)} outside the thumbnail ${JSON.stringify(r.img)}`,
    );
  }
}

/**
 * Answers VS Code's own (simple) file dialog, titled `title`, with `file`: types the path into
 * its input and presses Enter. The dialog fills in its default path and lists the folder as it
 * opens; should it overwrite the typed path, the path is typed again.
 */
async function answerFileDialog(page: Page, title: string, file: string, shot?: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input.input').first();
  await widget.locator('.quick-input-title').filter({ hasText: title }).waitFor({ timeout: 15_000 });
  for (let attempt = 1; ; attempt++) {
    await sleep(300);
    await input.fill(file);
    // It lists the folder's files as the path is typed; let it catch up before Enter.
    await sleep(500);
    if ((await input.inputValue()) === file) {
      if (shot && attempt === 1) await screenshot(page, shot);
      await input.press('Enter');
      try {
        await widget.waitFor({ state: 'hidden', timeout: 5000 });
        return;
      } catch {
        // Still open: try again.
      }
    }
    if (attempt === 3) throw new Error(`the file dialog "${title}" did not take ${file} (it shows "${await input.inputValue()}")`);
  }
}

async function waitForFile(file: string, timeoutMs = 20_000): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (fs.existsSync(file)) {
      const a = fs.readFileSync(file);
      await sleep(300);
      const b = fs.readFileSync(file);
      if (a.length > 0 && a.equals(b)) return b;
    }
    if (Date.now() > deadline) throw new Error(`${file} was not written`);
    await sleep(200);
  }
}

/** A 32x24 greyscale rendering of an image, for comparing what is on screen with a photo. */
function tiny(input: string | Buffer): Promise<Buffer> {
  return sharp(input).rotate().resize(32, 24, { fit: 'fill' }).greyscale().raw().toBuffer();
}

function meanDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/** Expands a folder of the Explorer (a click on a collapsed folder row). */
async function expandFolder(page: Page, folder: string, child: string): Promise<void> {
  const row = explorerItem(page, folder);
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
  await explorerItem(page, child).waitFor({ state: 'visible', timeout: 10_000 });
}

describe('Glimpse end to end in code-server', function () {
  this.timeout(300_000);

  let work: string;
  let album: TestAlbum;
  let vsix: string;

  before(async function () {
    this.timeout(20 * 60_000);
    const started = Date.now();
    await ensureCodeServer();
    note(`ensureCodeServer: ${seconds(started)}`);
    const packaged = Date.now();
    vsix = vsixUnderTest();
    note(`VSIX ${path.relative(REPO_ROOT, vsix)}: ${(fs.statSync(vsix).size / 1e6).toFixed(1)} MB (ready after ${seconds(packaged)})`);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-e2e-'));
    album = await makeTestAlbum(REPO_ROOT, path.join(work, 'album'), EVAL_DIR);
    note(`album: ${album.files.length} files from ${album.source === 'eval' ? EVAL_DIR : "face-api's demo photos"}`);
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('packages only what runs: the bundles, the models and the linux-x64 native modules', function () {
    if (TARGET !== 'linux-x64') this.skip();
    const zip = zipEntries(vsix);
    const entries = zip.map((e) => e.name);
    const files = entries.filter((n) => n.startsWith('extension/')).map((n) => n.slice('extension/'.length));
    for (const f of ['package.json', 'readme.md', 'LICENSE.txt', 'dist/extension.js', 'dist/index-worker.js', 'dist/webview.js', 'dist/webview.css', 'media/icon.png', 'models/manifest.json', 'models/README.md']) {
      assert.ok(files.includes(f), `${f} is not in the VSIX`);
    }
    const models = fs.readdirSync(path.join(REPO_ROOT, 'models')).filter((f) => f.endsWith('.onnx'));
    for (const m of models) assert.ok(files.includes(`models/${m}`), `models/${m} is not in the VSIX`);
    const packages = new Set(
      files.filter((f) => f.startsWith('node_modules/')).map((f) => f.split('/').slice(1, f.split('/')[1].startsWith('@') ? 3 : 2).join('/')),
    );
    assert.deepEqual(
      [...packages].sort(),
      ['@img/colour', '@img/sharp-libvips-linux-x64', '@img/sharp-linux-x64', 'bindings', 'detect-libc', 'file-uri-to-path', 'onnxruntime-common', 'onnxruntime-node', 'semver', 'sharp', 'sqlite3'],
    );
    const outside = files.filter((f) => !/^(package\.json|readme\.md|LICENSE\.txt|dist\/[^/]+\.(js|css)|media\/[^/]+|models\/[^/]+\.(onnx|json|md)|node_modules\/.+)$/.test(f));
    assert.deepEqual(outside, [], 'unexpected files');
    assert.deepEqual(files.filter((f) => f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts')), []);
    const ortBinaries = files.filter((f) => f.startsWith('node_modules/onnxruntime-node/bin/'));
    assert.ok(ortBinaries.length >= 2 && ortBinaries.every((f) => /\/linux\/x64\/[^/]+$/.test(f)), ortBinaries.join(', '));
    assert.ok(files.includes('node_modules/sqlite3/build/Release/node_sqlite3.node'));
    assert.ok(!files.some((f) => f.startsWith('node_modules/sqlite3/src/') || f.startsWith('node_modules/sqlite3/deps/')));
    const mb = fs.statSync(vsix).size / 1e6;
    note(`VSIX: ${files.length} files, ${mb.toFixed(1)} MB`);
    // Every platform's onnxruntime binaries would make it about 100 MB.
    assert.ok(mb < 50, `the VSIX is ${mb.toFixed(1)} MB`);

    // Unpacked alone, its modules load and work without the repository's node_modules.
    const unpacked = path.join(work, 'vsix');
    for (const e of zip) {
      const to = path.join(unpacked, e.name);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.writeFileSync(to, e.read());
    }
    const r = spawnSync(process.execPath, ['-e', LOAD_CHECK, path.join(unpacked, 'extension')], { cwd: unpacked, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
    assert.equal(r.status, 0, `the native modules of the VSIX do not load:\n${r.stderr}`);
    const loaded = JSON.parse(r.stdout) as { sharp: string; vips: string; width: number; inputs: string[]; sqlite: string };
    assert.equal(loaded.width, 8);
    assert.ok(loaded.inputs.length > 0);
    note(`unpacked VSIX loads sharp ${loaded.sharp} (libvips ${loaded.vips}), onnxruntime-node (mobilefacenet inputs ${loaded.inputs.join(', ')}), sqlite ${loaded.sqlite}`);
  });

  describe('a session in the workbench, installed from the VSIX', function () {
    let server: RunningCodeServer | undefined;
    let workbench: Workbench | undefined;
    let page: Page;
    let frame: FrameLocator;
    let saved: string;
    const timings: string[] = [];

    before(async function () {
      this.timeout(120_000);
      saved = path.join(work, 'saved');
      fs.mkdirSync(saved);
      const started = Date.now();
      server = await startCodeServer({ folder: album.root, vsix, colorTheme: 'Default Light Modern' });
      timings.push(`server with VSIX install ${seconds(started)}`);
      workbench = await openWorkbench(server.url, album.root);
      page = workbench.page;
      timings.push(`workbench usable ${(workbench.loadMs / 1000).toFixed(1)} s`);
    });

    after(async function () {
      note(`timings: ${timings.join('; ')}`);
      await workbench?.close();
      await server?.stop();
    });

    it('indexes the album in the background with the native modules of the VSIX', async function () {
      const started = Date.now();
      const photos = album.files.filter((f) => /\.jpe?g$/i.test(f)).length;
      // The status bar item reads "Glimpse: N photos" once the index is up to date.
      await page.locator('.statusbar-item').filter({ hasText: new RegExp(`Glimpse: ${photos} photos`) }).waitFor({ timeout: 180_000 });
      timings.push(`index of ${photos} photos ${seconds(started)} after the workbench`);

      const extensions = path.join(server!.scratch, 'extensions');
      const installed = fs.readdirSync(extensions).filter((d) => d.startsWith(`${manifest.publisher}.${manifest.name}-${manifest.version}`));
      assert.equal(installed.length, 1, `installed extensions: ${fs.readdirSync(extensions).join(', ')}`);
      const extDir = path.join(extensions, installed[0]);
      // The worker (a child of the extension host) runs from the installed extension and has
      // mapped the native libraries shipped in it.
      const workers = fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((pid) => {
          try {
            return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(extDir, 'dist', 'index-worker.js'));
          } catch {
            return false;
          }
        });
      assert.equal(workers.length, 1, 'one index worker from the installed extension');
      const maps = fs.readFileSync(`/proc/${workers[0]}/maps`, 'utf8');
      for (const lib of [
        'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
        'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
        'node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so',
        'node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64',
        'node_modules/sqlite3/build/Release/node_sqlite3.node',
      ]) {
        assert.ok(maps.includes(path.join(extDir, lib)), `the worker has not loaded ${lib} from the VSIX`);
      }

      // The extension's log: activation time and the event loop of the extension host while indexing.
      const [logFile] = findFiles(server!.scratch, (n) => /Glimpse\.log$/.test(n));
      assert.ok(logFile, 'no Glimpse.log');
      const log = fs.readFileSync(logFile, 'utf8');
      const activated = /Activated in ([\d.]+) ms/.exec(log);
      const blocked = /longest extension-host event-loop block while indexing: ([\d.]+) ms/.exec(log);
      assert.ok(activated, `no activation line in the log:\n${log}`);
      assert.ok(blocked, `no indexing summary in the log:\n${log}`);
      assert.doesNotMatch(log, /did not start|stopped unexpectedly|\[error\]/i);
      note(`from the VSIX: activation ${activated[1]} ms; longest extension-host event-loop block while indexing ${blocked[1]} ms`);
    });

    it('right-click a photo > Find Similar Faces: the person\'s photos come first, their faces highlighted', async function () {
      const started = Date.now();
      const [folder, file] = album.first.query.split('/');
      await expandFolder(page, folder, file);
      await explorerContextMenu(page, file, 'Find Similar Faces', { screenshot: 'vscode/context-menu.png' });
      frame = webviewFrame(page);
      const shown = await settledResults(frame, file);
      timings.push(`context menu to settled results ${seconds(started)}`);
      assertPerson(shown, album.first);
      assert.equal(await matchCount(frame), shown.length);
      await screenshot(page, 'vscode/gallery-light.png');
    });

    it('the threshold slider changes the count', async function () {
      const slider = frame.locator('input.threshold');
      const initial = await slider.inputValue();
      const before = await matchCount(frame);
      await slider.focus();
      await page.keyboard.press('End');
      await frame.locator('.threshold-value').filter({ hasText: '≥ 100%' }).waitFor({ timeout: 5000 });
      const strict = await matchCount(frame);
      assert.ok(strict < before, `${strict} matches at 100% vs ${before} at ${initial}%`);
      assert.ok(strict >= 1, 'the query photo itself is 100% similar');
      await page.keyboard.press('Home');
      const loose = await matchCount(frame);
      assert.ok(loose >= before, `${loose} matches at the lowest threshold vs ${before}`);
      // Back where it was (the extension keeps the threshold for the next search).
      await slider.fill(initial);
      await page.waitForTimeout(300);
      assert.equal(await matchCount(frame), before);
      assert.equal((await shownResults(frame)).length, before);
    });

    it('saves a match through VS Code\'s save dialog, as it is and with the faces drawn', async function () {
      const shown = await shownResults(frame);
      const target = shown[1];
      const original = path.join(album.root, album.first.photos.find((p) => path.basename(p) === target.name)!);
      const cell = frame.locator('.grid .cell').filter({ has: frame.locator('.name', { hasText: target.name }) });
      await cell.hover();
      await cell.getByRole('button', { name: 'Save a copy', exact: true }).click();
      const copy = path.join(saved, target.name);
      await answerFileDialog(page, 'Save a copy of the photo', copy, 'vscode/save-dialog.png');
      assert.ok((await waitForFile(copy)).equals(fs.readFileSync(original)), 'the saved copy differs from the photo');
      await frame.locator('.notice').filter({ hasText: `Saved ${target.name}` }).waitFor({ timeout: 10_000 });

      await cell.hover();
      await cell.getByRole('button', { name: 'Save a copy with the face highlighted' }).click();
      const drawn = path.join(saved, target.name.replace(/\.jpe?g$/i, '-faces.jpg'));
      await answerFileDialog(page, 'Save the photo with the faces drawn on it', drawn);
      const bytes = await waitForFile(drawn);
      const [a, b] = await Promise.all([sharp(original).rotate().metadata(), sharp(bytes).metadata()]);
      assert.equal(b.format, 'jpeg');
      const size = (m: { width?: number; height?: number; orientation?: number }): string => ((m.orientation ?? 1) >= 5 ? `${m.height}x${m.width}` : `${m.width}x${m.height}`);
      assert.equal(size(b), size(a), 'the drawn copy has the size of the photo');
      const [pa, pb] = await Promise.all([
        sharp(original).rotate().removeAlpha().raw().toBuffer(),
        sharp(bytes).rotate().removeAlpha().raw().toBuffer(),
      ]);
      assert.equal(pa.length, pb.length);
      let changed = 0;
      for (let i = 0; i < pa.length; i += 3) if (Math.abs(pa[i] - pb[i]) + Math.abs(pa[i + 1] - pb[i + 1]) + Math.abs(pa[i + 2] - pb[i + 2]) > 90) changed++;
      const share = changed / (pa.length / 3);
      assert.ok(share > 0.002 && share < 0.5, `${(share * 100).toFixed(2)}% of the pixels changed: no boxes drawn?`);
    });

    it('opens the preview of a result, moves to the next with the arrow key, and closes with Escape', async function () {
      const shown = await shownResults(frame);
      const dialog = frame.locator('dialog.preview');
      await frame.locator('.grid .cell').filter({ has: frame.locator('.name', { hasText: shown[0].name }) }).locator('.frame').click();
      await frame.locator('dialog.preview[open]').waitFor({ timeout: 10_000 });
      await frame.locator('#preview-title').filter({ hasText: shown[0].name }).waitFor({ timeout: 5000 });
      assert.match((await frame.locator('#preview-meta').textContent()) ?? '', new RegExp(`1 of ${shown.length}`));
      await page.keyboard.press('ArrowRight');
      await frame.locator('#preview-title').filter({ hasText: shown[1].name }).waitFor({ timeout: 5000 });
      assert.match((await frame.locator('#preview-meta').textContent()) ?? '', new RegExp(`2 of ${shown.length}`));
      // The large image arrives and the matched face is boxed on it.
      await frame.locator('.preview-img:not(.low)').waitFor({ timeout: 15_000 });
      assert.equal(await dialog.locator('.match-box').count(), 1);
      await screenshot(page, 'vscode/preview-light.png');
      // What is on screen is that photo, not the one shown before it.
      const photoOf = (name: string): string => path.join(album.root, album.first.photos.find((p) => path.basename(p) === name)!);
      const onScreen = await frame.locator('.preview-img').screenshot();
      const [here, wanted, before] = await Promise.all([tiny(onScreen), tiny(photoOf(shown[1].name)), tiny(photoOf(shown[0].name))]);
      const dWanted = meanDiff(here, wanted);
      const dBefore = meanDiff(here, before);
      assert.ok(dWanted < 25 && dWanted < dBefore / 2, `the preview shows another picture than ${shown[1].name} (difference ${dWanted.toFixed(1)}, to ${shown[0].name} ${dBefore.toFixed(1)})`);
      await page.keyboard.press('Escape');
      await frame.locator('dialog.preview[open]').waitFor({ state: 'detached', timeout: 5000 });
      assert.equal(await dialog.evaluate((d) => (d as HTMLDialogElement).open), false);
    });

    it('looks right in the dark theme too', async function () {
      // The command leaves its theme picker open in the quick input.
      await runCommand(page, 'Preferences: Color Theme');
      const dark = page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^\s*Dark Modern\s*$/ }) }).first();
      await page.locator('.quick-input-widget input').fill('Dark Modern');
      await dark.click();
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
      await frame.locator('body.vscode-dark').waitFor({ timeout: 10_000 });
      await sleep(500);
      await screenshot(page, 'vscode/gallery-dark.png');
      const colors = await frame.locator('body').evaluate((b) => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]);
      assert.notEqual(colors[0], colors[1]);
    });

    it('Glimpse: Find Similar Faces from the command palette searches the image open in the editor', async function () {
      const started = Date.now();
      const [folder, file] = album.second.query.split('/');
      await expandFolder(page, folder, file);
      await explorerItem(page, file).click();
      // The image preview is the active editor; its title bar offers the command too.
      await page.locator('.tabs-container .tab.active').filter({ hasText: file }).waitFor({ timeout: 15_000 });
      await page.locator('.editor-actions').getByRole('button', { name: /^Find Similar Faces/ }).first().waitFor({ timeout: 15_000 });
      await runCommand(page, 'Glimpse: Find Similar Faces');
      frame = webviewFrame(page);
      const shown = await settledResults(frame, file);
      timings.push(`palette (open image) to settled results ${seconds(started)}`);
      assertPerson(shown, album.second);
      await screenshot(page, 'vscode/palette-open-image-dark.png');
    });

    it('searches for a photo Shift-dragged from the Explorer onto the gallery', async function () {
      const photo = album.first.photos[album.first.photos.length - 1];
      assert.ok(!photo.includes('/'), 'a photo at the top of the album');
      const from = await explorerItem(page, photo).boundingBox();
      const to = await page.locator('iframe.webview.ready:visible').last().boundingBox();
      assert.ok(from && to);
      // VS Code hands a drag to a webview only while Shift is held.
      await page.mouse.move(from.x + 30, from.y + from.height / 2);
      await page.mouse.down();
      await page.keyboard.down('Shift');
      for (let i = 1; i <= 10; i++) {
        await page.mouse.move(from.x + 30 + ((to.x + to.width / 2 - from.x - 30) * i) / 10, from.y + from.height / 2 + ((to.y + to.height / 2 - from.y - from.height / 2) * i) / 10);
        await sleep(50);
      }
      await page.mouse.up();
      await page.keyboard.up('Shift');
      const shown = await settledResults(frame, photo);
      assert.equal(shown[0].name, photo, 'the dropped photo comes first');
    });

    it('... and through the open dialog when no image is open', async function () {
      const started = Date.now();
      await runCommand(page, 'View: Close All Editors');
      await page.locator('.editor-group-container .tab').first().waitFor({ state: 'detached', timeout: 10_000 });
      await runCommand(page, 'Glimpse: Find Similar Faces');
      await answerFileDialog(page, 'Glimpse: choose a photo of the person to look for', path.join(album.root, album.third.query), 'vscode/open-dialog.png');
      frame = webviewFrame(page);
      const shown = await settledResults(frame, path.basename(album.third.query));
      timings.push(`palette (open dialog) to settled results ${seconds(started)}`);
      assertPerson(shown, album.third);
    });
  });

  describe('inside the extension host', function () {
    it('passes the extension-host suite (suite/*.host.ts)', async function () {
      const started = Date.now();
      const lines: string[] = [];
      const code = await runExtensionTests({
        folder: album.root,
        extensionDevelopmentPath: REPO_ROOT,
        extensionTestsPath: path.join(REPO_ROOT, 'out', 'test', 'vscode', 'suite', 'index.js'),
        env: { GLIMPSE_TEST_ALBUM: JSON.stringify(album) },
        output: (line) => {
          lines.push(line);
          process.stdout.write(`    | ${line}\n`);
        },
      });
      note(`extension-host suite: ${seconds(started)}`);
      assert.equal(code, 0, `the extension-host suite failed:\n${lines.join('\n')}`);
      assert.ok(lines.some((l) => /\d+ passing/.test(l)), 'no mocha report');
    });
  });
});
