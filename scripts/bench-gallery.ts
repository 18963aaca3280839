/**
 * How fast the gallery webview is with many results, in headless chromium (see test/webview):
 * time from the `results` message to the painted grid, frame times while scrolling through
 * them, and the threshold slider's input-to-paint time. Prints figures; asserts nothing.
 *   node esbuild.mjs --no-models && node scripts/run-ts.mjs scripts/bench-gallery.ts [count]
 */
import * as fs from 'node:fs';
import { fixtureDir, launch, makePhotos, missingPrerequisite, openGallery, painted, photoUrl, startServer, synthResults } from '../test/webview/harness';
import { measureScroll, timeToPaint } from '../test/webview/measure';

async function main(): Promise<void> {
  const missing = missingPrerequisite();
  if (missing) {
    console.log(`bench-gallery: cannot run: ${missing}`);
    return;
  }
  const n = Number(process.argv[2] ?? 5000);
  const photos = await makePhotos(fixtureDir());
  const server = await startServer(photos);
  const { browser, home } = await launch();
  try {
    const g = await openGallery(browser, server, { width: 1400, height: 900 });
    const p = photos[0];
    const query = { name: 'query.jpg', src: photoUrl(server.origin, p, 'full'), width: p.width, height: p.height, faces: p.faces.map((box) => ({ box, score: 1 })), selected: 0 };
    console.log(`gallery with ${n.toLocaleString('en')} results, viewport 1400x900, chromium headless (software rendering)`);
    const paints: number[] = [];
    for (let search = 1; search <= 5; search++) {
      await g.send('query', { search, query, state: { threshold: 0.3, sort: 'similarity' } });
      await painted(g.page);
      const items = synthResults(photos, n, server.origin, { thumbs: search > 1, unique: true });
      paints.push(await timeToPaint(g.page, { type: 'results', params: { search, items, complete: true, floor: 0.3 } }));
    }
    console.log(`  first paint after the results message: ${paints.map((t) => t.toFixed(0)).join(', ')} ms (first without thumbnails, then with)`);
    await g.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.cell img')].every((i) => i.complete));
    const cells = await g.page.locator('.cell').count();
    const nodes = await g.page.evaluate(() => document.querySelectorAll('*').length);
    console.log(`  DOM: ${cells} result cells, ${nodes} elements in all`);
    for (const speed of [1500, 6000, 20000]) {
      const s = await measureScroll(g.page, 3000, speed);
      console.log(`  scrolling at ${speed} px/s: ${s.summary}`);
    }
    // The slider: input event to painted grid.
    const slider: number[] = [];
    for (const v of [35, 60, 90, 45, 75, 30]) {
      slider.push(
        await g.page.evaluate(async (value) => {
          const el = document.querySelector<HTMLInputElement>('input.threshold')!;
          const t0 = performance.now();
          el.value = String(value);
          el.dispatchEvent(new Event('input', { bubbles: true }));
          await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
          return performance.now() - t0;
        }, v),
      );
    }
    console.log(`  threshold slider, input to paint: ${slider.map((t) => t.toFixed(0)).join(', ')} ms`);
    await g.page.waitForTimeout(800);
    const save = await g.page.evaluate(() => {
      const app = (window as unknown as { glimpseGallery: { host: { lastSaveMs: number } } }).glimpseGallery;
      return { ms: app.host.lastSaveMs, kb: (sessionStorage.getItem('vscode-state') ?? '').length / 1024 };
    });
    console.log(`  saved state (setState, for a reload): ${save.kb.toFixed(0)} KB as JSON, ${save.ms.toFixed(1)} ms to save (stub: JSON + sessionStorage)`);
    await g.close();
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
