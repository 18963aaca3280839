/**
 * The gallery webview's real bundle in headless chromium (see harness.ts): query faces and face
 * picking, live threshold, sorting, highlight placement, preview, keyboard, virtualization with
 * 5,000 results, buttons, drag and drop, themes, growing results, state restore. Writes
 * screenshots to test-results/webview/ and prints first-paint and scroll frame times.
 *
 * Needs /usr/bin/chromium (CI installs it) and dist/webview.js (npm test bundles first).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { LIMITS, parseCommand, type QueryInfo, type ResultItem } from '../../src/shared/protocol';
import { galleryCsp, galleryHtml } from '../../src/webview/html';
import {
  fixtureDir,
  launch,
  makePhotos,
  missingPrerequisite,
  openGallery,
  painted,
  photoUrl,
  RESULTS_DIR,
  startServer,
  synthResults,
  type Gallery,
  type Photo,
  type Posted,
  type Server,
} from './harness';
import { measureScroll, timeToPaint } from './measure';

describe('gallery html', () => {
  it('has the strict CSP, a nonce on its one script and no inline style or script', () => {
    const html = galleryHtml({ cspSource: 'https://x.vscode-cdn.net', nonce: 'abc123', scriptUri: 'https://x/webview.js', styleUri: 'https://x/webview.css', title: 'A <b>' });
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1]?.replace(/&#39;/g, "'");
    assert.equal(csp, galleryCsp('https://x.vscode-cdn.net', 'abc123'));
    assert.equal(csp, "default-src 'none'; img-src https://x.vscode-cdn.net data: blob:; style-src https://x.vscode-cdn.net; script-src 'nonce-abc123'; font-src https://x.vscode-cdn.net");
    assert.match(html, /<script nonce="abc123" src="https:\/\/x\/webview.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="https:\/\/x\/webview.css">/);
    assert.doesNotMatch(html, /<style|\sstyle=|\son\w+=/i);
    assert.match(html, /<title>A &#60;b&#62;<\/title>/);
    assert.throws(() => galleryHtml({ cspSource: 'x', nonce: "a' 'unsafe-inline", scriptUri: '', styleUri: '' }));
  });
});

describe('gallery webview in chromium', function () {
  this.timeout(120_000);

  let browser: Browser;
  let home: string;
  let server: Server;
  let photos: Photo[];
  let g: Gallery;
  const opened: Gallery[] = [];

  before(async function () {
    const missing = missingPrerequisite();
    if (missing) {
      console.log(`    (skipped: ${missing})`);
      this.skip();
    }
    photos = await makePhotos(fixtureDir());
    server = await startServer(photos);
    ({ browser, home } = await launch());
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  async function open(opts: Parameters<typeof openGallery>[2] = {}): Promise<Gallery> {
    const gallery = await openGallery(browser, server, opts);
    opened.push(gallery);
    return gallery;
  }

  afterEach(async () => {
    for (const x of opened) {
      const v = await x.violations().catch(() => []);
      assert.deepEqual(v, [], 'CSP violations');
      const posted = await x.posted().catch(() => [] as Posted[]);
      for (const m of posted) assertValidCommand(m);
      await x.close().catch(() => undefined);
    }
    opened.length = 0;
  });

  const photo = (key: string): Photo => photos.find((p) => p.key === key)!;

  function queryOf(p: Photo): QueryInfo {
    const areas = p.faces.map((b) => b[2] * b[3]);
    return { name: `${p.key}.jpg`, src: photoUrl(server.origin, p, 'full'), width: p.width, height: p.height, faces: p.faces.map((box) => ({ box, score: 0.99 })), selected: areas.indexOf(Math.max(...areas)) };
  }

  async function start(gallery: Gallery, items: ResultItem[], o: { search?: number; threshold?: number; floor?: number; complete?: boolean } = {}): Promise<void> {
    const search = o.search ?? 1;
    await gallery.send('query', { search, query: queryOf(photo("sample1")), state: { threshold: o.threshold ?? 0.5, sort: 'similarity' } });
    await gallery.send('results', { search, items, complete: o.complete ?? true, floor: o.floor ?? 0.35 });
    await painted(gallery.page);
  }

  const cellCount = (page: Page): Promise<number> => page.locator('.cell').count();
  const countText = (page: Page): Promise<string> => page.locator('.count').innerText();

  it('boxes the query faces, preselects the largest and sends selectFace for a click or the keyboard', async () => {
    g = await open();
    const p = photo('sample4');
    const q = queryOf(p);
    await g.send('query', { search: 7, query: q, state: { threshold: 0.5, sort: 'similarity' } });
    const faces = g.page.locator('.query button.face');
    assert.equal(await faces.count(), p.faces.length);
    const pressed = g.page.locator('.query button.face[aria-pressed="true"]');
    assert.equal(await pressed.count(), 1);
    assert.equal(Number(await pressed.getAttribute('data-face')), q.selected);
    // Every box sits on its face: compare with the rendered photo.
    await g.page.locator('.query-img').evaluate((img: HTMLImageElement) => img.decode());
    const img = await g.page.locator('.query-img').boundingBox();
    for (let i = 0; i < p.faces.length; i++) {
      const r = await g.page.locator(`.query button.face[data-face="${i}"]`).boundingBox();
      assertNear(r!, scaled(p.faces[i], p, img!), 1.5, `query face ${i}`);
    }
    await g.clear();
    const other = (q.selected + 1) % p.faces.length;
    await g.page.locator(`.query button.face[data-face="${other}"]`).click();
    assert.deepEqual((await g.waitFor('selectFace')).params, { search: 7, face: other });
    // Keyboard: arrows move between faces (left to right), Enter picks.
    await g.clear();
    await g.page.locator(`.query button.face[data-face="${other}"]`).focus();
    await g.page.keyboard.press('ArrowRight');
    const focused = Number(await g.page.evaluate(() => (document.activeElement as HTMLElement).dataset.face));
    const order = p.faces.map((_, i) => i).sort((a, b) => p.faces[a][0] - p.faces[b][0]);
    assert.equal(focused, order[(order.indexOf(other) + 1) % order.length]);
    assert.deepEqual(await g.posted(), [], 'moving the focus searches nothing');
    await g.page.keyboard.press('Enter');
    assert.deepEqual((await g.waitFor('selectFace')).params, { search: 7, face: focused });
  });

  it('keeps the old results dimmed and inert while another face is searched for, then replaces them', async () => {
    g = await open();
    const first = synthResults(photos, 30, server.origin, { thumbs: true });
    await start(g, first, { search: 3 });
    await g.page.locator('.query button.face[aria-pressed="false"]').first().click();
    const picked = (await g.waitFor('selectFace')).params as { search: number; face: number };
    assert.equal(picked.search, 3);
    await painted(g.page);
    assert.equal(await g.page.locator('.results.stale').count(), 1, 'dimmed while searching');
    assert.equal(await g.page.locator('.grid').evaluate((el) => (el as HTMLElement).inert), true, 'old results cannot be acted on');
    // The extension answers with a new search of the same photo, then its results.
    const q = queryOf(photo('sample1'));
    await g.send('query', { search: 4, query: { ...q, selected: picked.face }, state: { threshold: 0.5, sort: 'similarity' } });
    assert.ok((await cellCount(g.page)) > 0, 'no flash of an empty page');
    assert.equal(await g.page.locator('.query button.face[aria-pressed="true"]').getAttribute('data-face'), String(picked.face));
    const second = synthResults(photos.slice(2), 12, server.origin, { thumbs: true }).map((it) => ({ ...it, id: it.id + 1000 }));
    await g.send('results', { search: 4, items: second, complete: true, floor: 0.35 });
    await painted(g.page);
    assert.equal(await g.page.locator('.results.stale').count(), 0);
    assert.equal(await g.page.locator('.grid').evaluate((el) => (el as HTMLElement).inert), false);
    assert.equal(await countText(g.page), `${second.filter((it) => it.score >= 0.5).length} matches`);
    assert.equal(await g.page.locator('.cell .name').first().innerText(), second[0].name);
    // Results of an older search are ignored.
    await g.send('results', { search: 3, items: first, complete: true, floor: 0.35 });
    assert.equal(await g.page.locator('.cell .name').first().innerText(), second[0].name);
  });

  it('says so when the query photo has no face', async () => {
    g = await open();
    await g.send('queryFailed', { search: 2, name: 'landscape.jpg', src: photoUrl(server.origin, photo('sample2'), 'thumb'), message: 'No face was found in landscape.jpg.' });
    await painted(g.page);
    assert.match(await g.page.locator('.query-hint.error').innerText(), /No face was found in landscape\.jpg/);
    assert.match(await countText(g.page), /No face to search for/);
    assert.equal(await g.page.locator('.empty').isVisible(), true);
    assert.equal(await g.page.locator('.grid').isVisible(), false);
    assert.equal(await g.page.locator('input.threshold').isVisible(), false, 'no filters without a query');
    await g.send('notice', { level: 'error', message: 'The album folder is not readable.' });
    assert.equal(await g.page.getByRole('alert').innerText(), 'The album folder is not readable.');
  });

  it('filters live with the threshold slider: the count follows, no command is sent until it rests', async () => {
    g = await open();
    const items = synthResults(photos, 100, server.origin, { thumbs: true, top: 0.99, bottom: 0.4 });
    await start(g, items, { threshold: 0.5, floor: 0.4 });
    const expected = (t: number): number => items.filter((it) => Math.floor(it.score * 100 + 1e-9) >= t).length;
    assert.equal(await countText(g.page), `${expected(50)} matches`);
    await g.clear();
    for (const t of [80, 95, 41]) {
      await g.page.locator('input.threshold').evaluate((el: HTMLInputElement, v) => {
        el.value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, t);
      assert.equal(await countText(g.page), `${expected(t)} match${expected(t) === 1 ? '' : 'es'}`);
      assert.match(await g.page.locator('.threshold-value').innerText(), new RegExp(`${t}%`));
      await painted(g.page);
      const shown = await g.page.locator('.cell .score').allInnerTexts();
      assert.ok(shown.every((s) => parseInt(s, 10) >= t), `every shown score is at least ${t}%`);
    }
    assert.deepEqual(await g.posted(), [], 'moving the slider is handled in the webview alone');
    // Keyboard on the slider, then its change event persists the threshold once.
    await g.page.locator('input.threshold').focus();
    await g.page.keyboard.press('ArrowRight');
    assert.equal(await countText(g.page), `${expected(42)} matches`);
    const state = await g.waitFor('state');
    assert.equal(state.params.threshold, 0.42);
    assert.equal(state.params.sort, 'similarity');
    await g.page.waitForFunction(() => JSON.parse(sessionStorage.getItem('vscode-state') ?? '{}').view?.threshold === 0.42);
    // The slider's bottom is the floor of the candidates.
    assert.equal(await g.page.locator('input.threshold').getAttribute('min'), '40');
  });

  it('sorts by similarity, date and name', async () => {
    g = await open();
    const items = synthResults(photos, 40, server.origin, { thumbs: true });
    await start(g, items);
    const ids = async (): Promise<number[]> => {
      await painted(g.page);
      return g.page.locator('.cell').evaluateAll((cells) => cells.map((c) => Number((c as HTMLElement).dataset.index)).sort((a, b) => a - b).map((i) => i));
    };
    const namesInOrder = async (): Promise<string[]> => {
      await painted(g.page);
      return g.page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('.cell')].sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index)).map((c) => c.querySelector('.name')!.textContent!),
      );
    };
    const visible = items.filter((it) => it.score >= 0.5);
    assert.ok((await ids()).length > 0);
    assert.deepEqual(await namesInOrder(), visible.slice(0, (await namesInOrder()).length).map((it) => it.name));
    await g.page.locator('select.sort').selectOption('name');
    const byName = [...visible].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    const names = await namesInOrder();
    assert.deepEqual(names, byName.slice(0, names.length).map((it) => it.name));
    assert.equal((await g.waitFor('state')).params.sort, 'name');
    await g.page.locator('select.sort').selectOption('date');
    const byDate = [...visible].sort((a, b) => b.mtime - a.mtime || b.score - a.score);
    const dated = await namesInOrder();
    assert.deepEqual(dated, byDate.slice(0, dated.length).map((it) => it.name));
  });

  it('draws the match highlight on the face at every thumbnail size (percent of the photo, aspect kept)', async () => {
    for (const width of [1280, 760]) {
      g = await open({ width, height: 900 });
      // One result per photo: landscape, portrait and EXIF-rotated.
      const items = synthResults(photos, photos.length, server.origin, { thumbs: true, top: 0.95, bottom: 0.9 });
      await start(g, items);
      for (const size of [120, 320]) {
        await g.page.locator('input.size').evaluate((el: HTMLInputElement, v) => {
          el.value = String(v);
          el.dispatchEvent(new Event('input', { bubbles: true }));
        }, size);
        await painted(g.page);
        for (const item of items) {
          const cell = g.page.locator(`.cell[data-index="${item.id - 1}"]`);
          await cell.scrollIntoViewIfNeeded();
          const thumb = cell.locator('img.thumb');
          await thumb.evaluate((img: HTMLImageElement) => img.decode());
          const drawn = await contentRect(thumb);
          const p = photos.find((ph) => ph.width === item.width && ph.height === item.height && ph.faces === item.faces)!;
          // The drawn thumbnail keeps the photo's aspect ratio (no distortion) ...
          assert.ok(Math.abs(drawn.width / drawn.height - p.width / p.height) < 0.02, `${p.key}: aspect ${drawn.width / drawn.height} vs ${p.width / p.height}`);
          // ... and the box lands on the face.
          const box = await cell.locator('.match-box').boundingBox();
          assertNear(box!, scaled(item.box, p, drawn), 2, `${p.key} at ${width}px, size ${size}`);
        }
      }
      await g.close();
    }
  });

  it('opens a preview with every face boxed, moves with the arrows, and closes with Escape back to the result', async () => {
    g = await open();
    const items = synthResults(photos, 24, server.origin, { thumbs: true });
    await start(g, items);
    await g.clear();
    // The eighth result is the photo stored sideways with EXIF orientation 6.
    const k = 7;
    const p = photos[k % photos.length];
    assert.equal(p.key, 'sample1-exif6');
    await g.page.locator(`.cell[data-index="${k}"] .frame`).click();
    const dialog = g.page.locator('dialog.preview');
    await dialog.waitFor({ state: 'visible' });
    assert.equal((await g.waitFor('preview')).params.id, items[k].id);
    assert.equal(await g.page.locator('#preview-title').innerText(), items[k].name);
    assert.match(await g.page.locator('.preview-meta').innerText(), new RegExp(`${k + 1} of \\d+`));
    // Meanwhile the thumbnail; then the large image.
    assert.equal(await g.page.locator('.preview-img').getAttribute('src'), items[k].thumb);
    const large = photoUrl(server.origin, p, 'full');
    await g.send('preview', { id: items[k].id, src: large });
    await g.page.waitForFunction((src) => document.querySelector('.preview-img')?.getAttribute('src') === src, large);
    await g.page.locator('.preview-img').evaluate((img: HTMLImageElement) => img.decode());
    const faces = dialog.locator('.face');
    assert.equal(await faces.count(), items[k].faces.length - 1, 'every other face boxed');
    assert.equal(await dialog.locator('.match-box').count(), 1, 'the matched face emphasised');
    const drawn = await contentRect(g.page.locator('.preview-img'));
    assertNear((await dialog.locator('.match-box').boundingBox())!, scaled(items[k].box, p, drawn), 2, 'preview match box');
    // Focus stays in the dialog.
    for (let i = 0; i < 12; i++) {
      await g.page.keyboard.press('Tab');
      assert.ok(await g.page.evaluate(() => !!document.activeElement?.closest('dialog.preview')), 'Tab stays in the preview');
    }
    await g.page.keyboard.press('ArrowRight');
    assert.equal(await g.page.locator('#preview-title').innerText(), items[k + 1].name);
    await g.page.keyboard.press('ArrowRight');
    await g.page.keyboard.press('ArrowLeft');
    await g.page.keyboard.press('ArrowRight');
    assert.equal(await g.page.locator('#preview-title').innerText(), items[k + 2].name);
    await g.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const active = await g.page.evaluate(() => (document.activeElement as HTMLElement).dataset.index);
    assert.equal(active, String(k + 2), 'focus returns to the result shown last');
  });

  it('moves through the grid with the keyboard and opens the preview with Enter', async () => {
    g = await open({ width: 1200 });
    const items = synthResults(photos, 60, server.origin, { thumbs: true, top: 0.99, bottom: 0.6 });
    await start(g, items);
    const cols = Number(await g.page.locator('.grid').getAttribute('aria-colcount'));
    assert.ok(cols >= 3, `${cols} columns`);
    const activeIndex = (): Promise<number> => g.page.evaluate(() => Number((document.activeElement as HTMLElement).dataset.index));
    // Tab reaches the grid's single tab stop, the first result.
    await g.page.locator('button.save-all-highlights').focus();
    await g.page.keyboard.press('Tab');
    assert.equal(await activeIndex(), 0);
    assert.equal(await g.page.evaluate(() => document.activeElement?.getAttribute('role')), 'gridcell');
    const ring = await g.page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.equal(ring, 'solid', 'the focused result shows a focus ring');
    await g.page.keyboard.press('ArrowRight');
    assert.equal(await activeIndex(), 1);
    await g.page.keyboard.press('ArrowDown');
    assert.equal(await activeIndex(), 1 + cols);
    await g.page.keyboard.press('ArrowLeft');
    assert.equal(await activeIndex(), cols);
    await g.page.keyboard.press('End');
    assert.equal(await activeIndex(), 2 * cols - 1);
    await g.page.keyboard.press('Control+End');
    assert.equal(await activeIndex(), items.length - 1);
    assert.ok(await g.page.evaluate(() => {
      const r = document.activeElement!.getBoundingClientRect();
      const v = document.querySelector('.grid')!.getBoundingClientRect();
      return r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
    }), 'the active result is scrolled into view');
    await g.page.keyboard.press('Control+Home');
    assert.equal(await activeIndex(), 0);
    // Tab from the active result reaches its buttons, with names.
    await g.page.keyboard.press('Tab');
    assert.equal(await g.page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Open');
    await g.page.keyboard.press('Escape');
    assert.equal(await activeIndex(), 0);
    await g.page.keyboard.press('Enter');
    await g.page.locator('dialog.preview').waitFor({ state: 'visible' });
    assert.equal(await g.page.locator('#preview-title').innerText(), items[0].name);
  });

  it('keeps the DOM bounded with 5,000 results and reaches the last one', async () => {
    g = await open({ width: 1200, height: 800 });
    const items = synthResults(photos, 5000, server.origin);
    await g.send('query', { search: 1, query: queryOf(photo('sample1')), state: { threshold: 0.3, sort: 'similarity' } });
    await g.clear();
    const t = await timeToPaint(g.page, { type: 'results', params: { search: 1, items, complete: true, floor: 0.3 } });
    assert.equal(await countText(g.page), '5,000 matches');
    const cells = await cellCount(g.page);
    assert.ok(cells > 0 && cells < 120, `${cells} cells in the DOM`);
    const nodes = await g.page.evaluate(() => document.querySelectorAll('*').length);
    assert.ok(nodes < 2500, `${nodes} DOM nodes`);
    // Only the visible thumbnails are asked for.
    const ask = await g.waitFor('thumbs');
    const ids = ask.params.ids as number[];
    assert.ok(ids.length > 0 && ids.length <= cells, `asked for ${ids.length} thumbnails`);
    assert.ok(ids.every((id) => id <= cells + 1), 'the first ones');
    assert.ok(await g.page.locator('.photo.pending').count() > 0, 'placeholders until they come');
    await g.send('thumbs', { items: ids.map((id) => ({ id, thumb: items[id - 1] && photoUrl(server.origin, photos[(id - 1) % photos.length], 'thumb') })) });
    await g.page.waitForFunction(() => document.querySelectorAll('.cell img.thumb').length > 0 && [...document.querySelectorAll<HTMLImageElement>('.cell img.thumb')].every((i) => i.complete));
    // Scroll to the end: the last item is there, and the DOM is still small.
    await g.page.locator('.grid').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await painted(g.page);
    await painted(g.page);
    const last = g.page.locator(`.cell[data-index="4999"]`);
    assert.equal(await last.locator('.name').innerText(), items[4999].name);
    assert.ok(await last.isVisible());
    assert.ok((await cellCount(g.page)) < 120);
    const rows = Number(await g.page.locator('.grid').getAttribute('aria-rowcount'));
    const cols = Number(await g.page.locator('.grid').getAttribute('aria-colcount'));
    assert.equal(rows, Math.ceil(5000 / cols));
    const frames = await measureScroll(g.page, 2000);
    console.log(`      5,000 results: first paint ${t.toFixed(0)} ms after the results message; scrolling ${frames.summary}`);
  });

  it('lays out again when the panel is resized, keeping the result at the top in view', async () => {
    g = await open({ width: 1300, height: 800 });
    const items = synthResults(photos, 2000, server.origin, { thumbs: true, top: 0.99, bottom: 0.5 });
    await start(g, items);
    const grid = g.page.locator('.grid');
    const colsWide = Number(await grid.getAttribute('aria-colcount'));
    await grid.evaluate((el) => (el.scrollTop = 20_000));
    await painted(g.page);
    const topIndex = (): Promise<number> =>
      g.page.evaluate(() => {
        const v = document.querySelector('.grid')!.getBoundingClientRect();
        const cells = [...document.querySelectorAll<HTMLElement>('.cell')].filter((c) => c.getBoundingClientRect().bottom > v.top + 5);
        return Math.min(...cells.map((c) => Number(c.dataset.index)));
      });
    const before = await topIndex();
    await g.page.setViewportSize({ width: 700, height: 800 });
    await painted(g.page);
    await painted(g.page);
    const colsNarrow = Number(await grid.getAttribute('aria-colcount'));
    assert.ok(colsNarrow < colsWide, `${colsWide} columns, then ${colsNarrow}`);
    const after = await topIndex();
    assert.ok(Math.abs(after - before) < colsWide, `top result ${before}, then ${after}`);
    // Cells fill the row: the row height follows the column width.
    const sizes = await g.page.locator('.cell').first().evaluate((c) => {
      const frame = c.querySelector('.frame')!.getBoundingClientRect();
      return { w: frame.width, h: frame.height, cell: c.getBoundingClientRect().height };
    });
    assert.ok(Math.abs(sizes.w / sizes.h - 4 / 3) < 0.02, `frame ${sizes.w}x${sizes.h}`);
  });

  it('sends open, reveal, save and saveAll with the right ids', async () => {
    g = await open();
    const items = synthResults(photos, 30, server.origin, { thumbs: true, top: 0.9, bottom: 0.4 });
    await start(g, items, { threshold: 0.6 });
    const cell = g.page.locator('.cell[data-index="1"]');
    const id = items[1].id;
    await g.clear();
    for (const [label, type, params] of [
      ['Open', 'open', { id }],
      ['Reveal in Explorer', 'reveal', { id }],
      ['Save a copy', 'save', { id, highlights: false }],
      ['Save a copy with the face highlighted', 'save', { id, highlights: true }],
    ] as const) {
      await cell.getByRole('button', { name: label, exact: true }).click();
      const posted = await g.posted();
      assert.deepEqual(posted.at(-1), { type, params }, label);
    }
    assert.equal(await g.page.locator('dialog.preview').isVisible(), false, 'a button does not open the preview');
    const above = items.filter((it) => Math.floor(it.score * 100 + 1e-9) >= 60).map((it) => it.id);
    await g.page.locator('button.save-all').click();
    assert.deepEqual((await g.posted()).at(-1), { type: 'saveAll', params: { ids: above, highlights: false } });
    assert.match(await g.page.locator('button.save-all').innerText(), new RegExp(`Save All ${above.length} Matches`));
    await g.page.locator('button.save-all-highlights').click();
    assert.deepEqual((await g.posted()).at(-1), { type: 'saveAll', params: { ids: above, highlights: true } });
    // Raising the threshold changes what Save All saves.
    await g.page.locator('input.threshold').evaluate((el: HTMLInputElement) => {
      el.value = '80';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await g.page.locator('button.save-all').click();
    assert.deepEqual(((await g.posted()).at(-1)!.params as { ids: number[] }).ids, items.filter((it) => Math.floor(it.score * 100 + 1e-9) >= 80).map((it) => it.id));
    // The preview's buttons act on the photo shown.
    await cell.locator('.frame').click();
    await g.page.locator('dialog.preview').getByRole('button', { name: 'Reveal in Explorer' }).click();
    assert.deepEqual((await g.posted()).at(-1), { type: 'reveal', params: { id } });
  });

  it('starts a search from a dropped file or Explorer URI, and refuses what is not an image', async () => {
    g = await open();
    await start(g, synthResults(photos, 10, server.origin, { thumbs: true }));
    const jpeg = fs.readFileSync(photos[0].thumb);
    await g.clear();
    const drop = (payload: { file?: { name: string; type: string; bytes: number[] }; uris?: Record<string, string> }): Promise<void> =>
      g.page.evaluate((pl) => {
        const dt = new DataTransfer();
        if (pl.file) dt.items.add(new File([new Uint8Array(pl.file.bytes)], pl.file.name, { type: pl.file.type }));
        for (const [type, v] of Object.entries(pl.uris ?? {})) dt.setData(type, v);
        const target = document.querySelector('.grid')!;
        target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, payload);
    await drop({ file: { name: 'friend.jpg', type: 'image/jpeg', bytes: [...jpeg] } });
    const sent = await g.waitFor('dropFile');
    assert.deepEqual(sent.params, { name: 'friend.jpg', bytes: { bytes: jpeg.length, head: [...jpeg.subarray(0, 8)] } });
    assert.equal(await g.page.locator('.drop-overlay').isVisible(), false, 'the overlay goes away');
    await g.clear();
    await drop({ uris: { 'application/vnd.code.uri-list': 'file:///album/2021/IMG_1.jpg\r\nfile:///album/other.jpg', 'text/uri-list': 'file:///x.jpg' } });
    assert.deepEqual((await g.waitFor('dropUri')).params, { uri: 'file:///album/2021/IMG_1.jpg' });
    await g.clear();
    await drop({ uris: { 'text/uri-list': '# comment\nfile:///album/b.png' } });
    assert.deepEqual((await g.waitFor('dropUri')).params, { uri: 'file:///album/b.png' });
    await g.clear();
    await drop({ file: { name: 'notes.txt', type: 'text/plain', bytes: [104, 105] } });
    await g.page.locator('.notice.error').waitFor({ state: 'visible' });
    assert.match(await g.page.locator('.notice').innerText(), /not an image/);
    assert.deepEqual(await g.posted(), []);
    assert.match(await g.page.locator('.hint').innerText(), /hold Shift/);
    // Too large: refused before any bytes are read.
    await g.page.evaluate((max) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(max + 1)], 'huge.jpg', { type: 'image/jpeg' }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, LIMITS.dropBytes);
    await g.page.waitForFunction(() => /too large/.test(document.querySelector('.notice')?.textContent ?? ''));
    assert.deepEqual(await g.posted(), []);
    // The overlay shows while something is dragged over.
    await g.page.evaluate(() => {
      const dt = new DataTransfer();
      dt.setData('text/uri-list', 'file:///a.jpg');
      document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    assert.equal(await g.page.locator('.drop-overlay').isVisible(), true);
  });

  it('grows with new results during indexing without losing the scroll position or reloading thumbnails', async () => {
    g = await open({ width: 1200, height: 800 });
    const all = synthResults(photos, 300, server.origin, { thumbs: true, top: 0.99, bottom: 0.5 });
    // Results so far: every other one.
    const first = all.filter((_, i) => i % 2 === 0);
    await g.send('progress', { state: 'indexing', done: 120, total: 1000, failed: 2 });
    await start(g, first, { complete: false, threshold: 0.5 });
    const bar = g.page.locator('.progress');
    assert.equal(await bar.isVisible(), true);
    assert.equal(await bar.getAttribute('aria-valuenow'), '120');
    await g.page.waitForFunction(() => /Indexing photos: 120 of 1,000/.test(document.querySelector('.status')!.textContent ?? ''));
    assert.match(await g.page.locator('.status').innerText(), /2 photos could not be read/);
    await g.page.locator('.grid').evaluate((el) => (el.scrollTop = 1500));
    await painted(g.page);
    const topItem = async (): Promise<{ name: string; top: number }> =>
      g.page.evaluate(() => {
        const v = document.querySelector('.grid')!.getBoundingClientRect();
        const cells = [...document.querySelectorAll<HTMLElement>('.cell')].filter((c) => c.getBoundingClientRect().bottom > v.top + 5).sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index));
        return { name: cells[0].querySelector('.name')!.textContent!, top: Math.round(cells[0].getBoundingClientRect().top) };
      });
    const before = await topItem();
    // Mark the rendered images: the same elements must survive the update.
    await g.page.evaluate(() => document.querySelectorAll('.cell img.thumb').forEach((i) => ((i as unknown as { mark: boolean }).mark = true)));
    const marked = await g.page.locator('.cell img.thumb').count();
    await g.send('progress', { state: 'indexing', done: 600, total: 1000, failed: 2 });
    await g.send('results', { search: 1, items: all.slice(0, 260), complete: false, floor: 0.35 });
    await painted(g.page);
    const after = await topItem();
    assert.deepEqual(after, before, 'the result at the top stays put');
    const kept = await g.page.evaluate(() => [...document.querySelectorAll('.cell img.thumb')].filter((i) => (i as unknown as { mark?: boolean }).mark).length);
    assert.ok(kept >= marked * 0.3, `${kept} of ${marked} thumbnails kept their element`);
    assert.equal(await countText(g.page), `${all.slice(0, 260).filter((it) => it.score >= 0.5).length} matches`);
    await g.send('progress', { state: 'idle', done: 1000, total: 1000, failed: 2 });
    assert.equal(await bar.isVisible(), false);
  });

  it('restores query, results, threshold and scroll after a reload, before the extension answers', async () => {
    g = await open({ width: 1200, height: 800 });
    const items = synthResults(photos, 400, server.origin, { thumbs: true, top: 0.99, bottom: 0.4 });
    await start(g, items, { threshold: 0.45, search: 5 });
    await g.page.locator('input.threshold').evaluate((el: HTMLInputElement) => {
      el.value = '60';
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await g.page.locator('select.sort').selectOption('name');
    await g.page.locator('.grid').evaluate((el) => (el.scrollTop = 2400));
    await painted(g.page);
    const firstVisible = (): Promise<string> =>
      g.page.evaluate(() => {
        const v = document.querySelector('.grid')!.getBoundingClientRect();
        const cells = [...document.querySelectorAll<HTMLElement>('.cell')].filter((c) => c.getBoundingClientRect().bottom > v.top + 5).sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index));
        return cells[0].querySelector('.name')!.textContent!;
      });
    const before = await firstVisible();
    const count = await countText(g.page);
    await g.page.waitForTimeout(600); // the state is saved once things rest
    await g.page.reload({ waitUntil: 'load' });
    await painted(g.page);
    assert.equal(await countText(g.page), count);
    assert.equal(await g.page.locator('input.threshold').inputValue(), '60');
    assert.equal(await g.page.locator('select.sort').inputValue(), 'name');
    assert.equal(await g.page.locator('.query button.face').count(), 3);
    assert.equal(await firstVisible(), before);
    assert.deepEqual((await g.posted()).map((m) => m.type).filter((t) => t !== 'thumbs'), ['ready']);
  });

  it('works in the high-contrast theme: bordered results and focus in the contrast colours', async () => {
    g = await open({ theme: 'hc' });
    await start(g, synthResults(photos, 12, server.origin, { thumbs: true }));
    const frame = await g.page.locator('.cell .frame').first().evaluate((el) => {
      const s = getComputedStyle(el);
      return { width: s.borderTopWidth, style: s.borderTopStyle, color: s.borderTopColor };
    });
    assert.deepEqual(frame, { width: '1px', style: 'solid', color: 'rgb(111, 195, 223)' });
    const button = await g.page.locator('button.save-all').evaluate((el) => getComputedStyle(el).borderTopColor);
    assert.equal(button, 'rgb(111, 195, 223)');
    // Light theme: no such border.
    const light = await open({ theme: 'light' });
    await start(light, synthResults(photos, 4, server.origin, { thumbs: true }));
    assert.equal(await light.page.locator('.cell .frame').first().evaluate((el) => getComputedStyle(el).borderTopStyle), 'none');
  });

  it('writes screenshots in the light, dark and high-contrast themes', async () => {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const items = synthResults(photos, 240, server.origin, { thumbs: true, top: 0.96, bottom: 0.38 });
    for (const theme of ['light', 'dark', 'hc'] as const) {
      const s = await open({ theme, width: 1280, height: 860 });
      await s.send('progress', { state: 'indexing', done: 1873, total: 4210, failed: 0 });
      await start(s, items, { threshold: 0.55, complete: false });
      await s.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img')].every((i) => i.complete));
      await s.page.locator('.cell[data-index="1"]').focus();
      await s.page.waitForTimeout(400);
      await s.page.screenshot({ path: path.join(RESULTS_DIR, `gallery-${theme}.png`) });
      if (theme === 'dark') {
        await s.page.keyboard.press('Enter');
        await s.send('preview', { id: items[1].id, src: photoUrl(server.origin, photos[1], 'full') });
        await s.page.waitForFunction((src) => document.querySelector('.preview-img')?.getAttribute('src') === src, photoUrl(server.origin, photos[1], 'full'));
        await s.page.locator('.preview-img').evaluate((img: HTMLImageElement) => img.decode());
        await s.page.screenshot({ path: path.join(RESULTS_DIR, 'preview-dark.png') });
      }
      await s.close();
    }
    // A narrow panel beside an editor, with a portrait query photo.
    const narrow = await open({ theme: 'light', width: 520, height: 760 });
    await narrow.send('query', { search: 1, query: queryOf(photo('portrait')), state: { threshold: 0.55, sort: 'similarity' } });
    await narrow.send('results', { search: 1, items, complete: true, floor: 0.35 });
    await narrow.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img')].every((i) => i.complete));
    await narrow.page.screenshot({ path: path.join(RESULTS_DIR, 'gallery-narrow-light.png') });
    // No face in the query photo.
    const failed = await open({ theme: 'dark', width: 1000, height: 500 });
    await failed.send('queryFailed', { search: 1, name: 'sunset.jpg', src: photoUrl(server.origin, photo('sample2'), 'thumb'), message: 'No face was found in sunset.jpg.' });
    await failed.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img')].every((i) => i.complete));
    await failed.page.screenshot({ path: path.join(RESULTS_DIR, 'query-failed-dark.png') });
    console.log(`      screenshots in ${path.relative(process.cwd(), RESULTS_DIR)}/`);
  });
});

// ---- helpers ----------------------------------------------------------------------------------

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Every posted command passes the extension's own run-time check. */
function assertValidCommand(m: Posted): void {
  const params = m.type === 'dropFile' ? { ...m.params, bytes: new Uint8Array((m.params.bytes as { bytes: number }).bytes) } : m.params;
  const r = parseCommand({ type: m.type, params });
  assert.ok(r.ok, `${m.type} ${JSON.stringify(m.params).slice(0, 200)}: ${r.ok ? '' : r.reason}`);
  if (m.type === 'saveAll' || m.type === 'thumbs') assert.ok((m.params.ids as number[]).length <= LIMITS.ids);
}

/** Where a face box of `p` falls on the photo drawn in `drawn`. */
function scaled(box: readonly number[], p: { width: number; height: number }, drawn: Rect): Rect {
  const sx = drawn.width / p.width;
  const sy = drawn.height / p.height;
  return { x: drawn.x + box[0] * sx, y: drawn.y + box[1] * sy, width: box[2] * sx, height: box[3] * sy };
}

function assertNear(actual: Rect, expected: Rect, tol: number, what: string): void {
  const d = Math.max(
    Math.abs(actual.x - expected.x),
    Math.abs(actual.y - expected.y),
    Math.abs(actual.x + actual.width - expected.x - expected.width),
    Math.abs(actual.y + actual.height - expected.y - expected.height),
  );
  assert.ok(d <= tol, `${what}: box ${JSON.stringify(round(actual))} is ${d.toFixed(1)} px off ${JSON.stringify(round(expected))}`);
}

function round(r: Rect): Rect {
  return { x: Math.round(r.x), y: Math.round(r.y), width: Math.round(r.width), height: Math.round(r.height) };
}

/** The rectangle where an <img> actually draws its picture (object-fit: contain inside its box). */
async function contentRect(img: ReturnType<Page['locator']>): Promise<Rect> {
  return img.evaluate((el: HTMLImageElement) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    const a = el.naturalWidth / el.naturalHeight;
    let w = r.width;
    let hh = r.height;
    if (s.objectFit === 'contain') {
      if (w / hh > a) w = hh * a;
      else hh = w / a;
    }
    return { x: r.x + (r.width - w) / 2, y: r.y + (r.height - hh) / 2, width: w, height: hh };
  });
}
