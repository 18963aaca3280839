/**
 * Runs the real gallery bundle (dist/webview.js, dist/webview.css) in headless chromium without
 * VS Code: a tiny HTTP server on 127.0.0.1 serves the page made by galleryHtml (under its CSP)
 * and the photos; an init script stands in for acquireVsCodeApi: it records the commands the
 * page posts (structured-cloned, as VS Code does), keeps setState in sessionStorage so a reload
 * restores, and lets the test send notifications (window message events of {type, params}).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Box, NotificationMessage, NotificationName, Notifications, ResultItem } from '../../src/shared/protocol';
import { galleryHtml } from '../../src/webview/html';
import { themeCss, THEMES, type ThemeName } from './themes';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium';

/** The repository root: out/test/webview when compiled by tsc, out/run when bundled by scripts/run-ts.mjs. */
export const REPO = ((): string => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'esbuild.mjs')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return path.resolve(__dirname, '../../..');
})();
export const DEMO = path.join(REPO, 'node_modules', '@vladmandic', 'face-api', 'demo');
export const RESULTS_DIR = path.join(REPO, 'test-results', 'webview');
const FACES_JSON = path.join(REPO, 'test', 'webview', 'fixtures', 'demo-faces.json');


/** Why the browser tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  for (const f of ['dist/webview.js', 'dist/webview.css']) {
    if (!fs.existsSync(path.join(REPO, f))) return `${f} is missing (node esbuild.mjs --no-models)`;
  }
  if (!fs.existsSync(path.join(DEMO, 'sample1.jpg'))) return `face-api's demo photos are missing (npm ci)`;
  return undefined;
}

// ---- photos -----------------------------------------------------------------------------------

/** A photo the fixture serves: its full-size file, its thumbnail and its faces (pixels of the upright photo). */
export interface Photo {
  key: string;
  width: number;
  height: number;
  faces: Box[];
  full: string;
  thumb: string;
}

interface FacesFile {
  files: Record<string, { width: number; height: number; faces: { box: Box; score: number }[] }>;
}

/**
 * The demo photos with their real face boxes (found by the engine, test/webview/fixtures), their
 * thumbnails (sharp), a portrait crop, and a copy stored sideways with EXIF orientation 6.
 */
export async function makePhotos(dir: string): Promise<Photo[]> {
  const sharp = (await import('sharp')).default;
  const known = (JSON.parse(fs.readFileSync(FACES_JSON, 'utf8')) as FacesFile).files;
  fs.mkdirSync(dir, { recursive: true });
  const photos: Photo[] = [];
  const thumbOf = async (input: Buffer | string, key: string): Promise<string> => {
    const out = path.join(dir, `thumb-${key}.jpg`);
    if (!fs.existsSync(out)) await sharp(input).rotate().resize({ width: 480, height: 480, fit: 'inside' }).jpeg({ quality: 82 }).toFile(out);
    return out;
  };
  for (const [name, info] of Object.entries(known)) {
    const full = path.join(DEMO, name);
    const key = name.replace(/\.jpg$/, '');
    photos.push({ key, width: info.width, height: info.height, faces: info.faces.map((f) => f.box), full, thumb: await thumbOf(full, key) });
  }
  // Portrait: a crop of sample3 holding two of its faces.
  const s3 = known['sample3.jpg'];
  const crop = { left: 1000, top: 100, width: 750, height: 1250 };
  const portraitFull = path.join(dir, 'portrait.jpg');
  if (!fs.existsSync(portraitFull)) await sharp(path.join(DEMO, 'sample3.jpg')).extract(crop).jpeg({ quality: 90 }).toFile(portraitFull);
  const inside = s3.faces.map((f) => f.box).filter(([x, y, w, hh]) => x >= crop.left && y >= crop.top && x + w <= crop.left + crop.width && y + hh <= crop.top + crop.height);
  photos.push({
    key: 'portrait',
    width: crop.width,
    height: crop.height,
    faces: inside.map(([x, y, w, hh]) => [x - crop.left, y - crop.top, w, hh] as Box),
    full: portraitFull,
    thumb: await thumbOf(portraitFull, 'portrait'),
  });
  // Stored sideways, upright only through its EXIF orientation (6: rotate 90° clockwise to show).
  const s1 = known['sample1.jpg'];
  const exifFull = path.join(dir, 'sample1-exif6.jpg');
  if (!fs.existsSync(exifFull)) await sharp(path.join(DEMO, 'sample1.jpg')).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toFile(exifFull);
  photos.push({ key: 'sample1-exif6', width: s1.width, height: s1.height, faces: s1.faces.map((f) => f.box), full: exifFull, thumb: await thumbOf(exifFull, 'sample1-exif6') });
  return photos;
}

export function fixtureDir(): string {
  return path.join(os.tmpdir(), 'glimpse-webview-fixture-v1');
}

// ---- results ----------------------------------------------------------------------------------

const ALBUMS = ['2019 Lake trip', '2020 Birthdays', '2021 Wedding', '2022 Hiking', '2023 Family', 'Phone/Camera'];

export interface SynthOptions {
  /** Give every item its thumbnail URI at once (default: none, they come through `thumbs`). */
  thumbs?: boolean;
  /** A distinct thumbnail URL per result (?n=id), so the browser loads and decodes each, as with a real album. */
  unique?: boolean;
  /** Highest and lowest similarity (linear, best first). */
  top?: number;
  bottom?: number;
}

/** `n` results cycling through the photos and each one's faces: ids 1..n, best first. */
export function synthResults(photos: Photo[], n: number, origin: string, o: SynthOptions = {}): ResultItem[] {
  const top = o.top ?? 0.97;
  const bottom = o.bottom ?? 0.36;
  const day = 86_400_000;
  const base = Date.UTC(2019, 0, 1);
  return Array.from({ length: n }, (_, i) => {
    const p = photos[i % photos.length];
    const face = p.faces[Math.floor(i / photos.length) % p.faces.length];
    const album = ALBUMS[i % ALBUMS.length];
    const name = `IMG_${String(1000 + ((i * 7919) % 9000)).padStart(4, '0')}_${p.key}.jpg`;
    return {
      id: i + 1,
      name,
      path: `${album}/${name}`,
      thumb: o.thumbs ? `${photoUrl(origin, p, 'thumb')}${o.unique ? `?n=${i + 1}` : ''}` : undefined,
      width: p.width,
      height: p.height,
      score: n > 1 ? top - ((top - bottom) * i) / (n - 1) : top,
      box: face,
      faces: p.faces,
      mtime: base + ((i * 104_729) % 1500) * day,
    };
  });
}

export function photoUrl(origin: string, p: Photo, kind: 'thumb' | 'full'): string {
  return `${origin}/photos/${kind}/${p.key}.jpg`;
}

// ---- server -----------------------------------------------------------------------------------

export interface Server {
  origin: string;
  /** The page for a theme (the html of galleryHtml, with VS Code's body class and theme variables added). */
  url(theme?: ThemeName): string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.jpg': 'image/jpeg', '.map': 'application/json' };

export async function startServer(photos: Photo[]): Promise<Server> {
  const byKey = new Map(photos.map((p) => [p.key, p]));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, type: string, body: Buffer | string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'max-age=3600' });
      res.end(body);
    };
    const file = (p: string): void => {
      fs.readFile(p, (err, data) => (err ? send(404, 'text/plain', 'not found') : send(200, TYPES[path.extname(p)] ?? 'application/octet-stream', data)));
    };
    if (url.pathname === '/') {
      const theme = (url.searchParams.get('theme') ?? 'dark') as ThemeName;
      const origin = `http://${req.headers.host}`;
      const nonce = randomBytes(16).toString('base64');
      let html = galleryHtml({ cspSource: origin, nonce, scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/dist/webview.css`, title: 'Similar Faces' });
      // What VS Code adds to every webview page: the theme variables and the body class.
      html = html.replace('</head>', `<link rel="stylesheet" href="${origin}/theme/${theme}.css">\n</head>`);
      html = html.replace('<body>', `<body class="${THEMES[theme].bodyClass}" data-vscode-theme-kind="${THEMES[theme].bodyClass}">`);
      send(200, 'text/html; charset=utf-8', html);
    } else if (url.pathname === '/favicon.ico') {
      send(204, 'image/x-icon', '');
    } else if (url.pathname.startsWith('/theme/')) {
      const name = path.basename(url.pathname, '.css') as ThemeName;
      if (name in THEMES) send(200, 'text/css', themeCss(name));
      else send(404, 'text/plain', 'no theme');
    } else if (url.pathname.startsWith('/dist/')) {
      file(path.join(REPO, 'dist', path.basename(url.pathname)));
    } else {
      const m = /^\/photos\/(thumb|full)\/([\w-]+)\.jpg$/.exec(url.pathname);
      const p = m && byKey.get(m[2]);
      if (p) file(m![1] === 'thumb' ? p.thumb : p.full);
      else send(404, 'text/plain', 'not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (theme: ThemeName = 'dark') => `${origin}/?theme=${theme}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// ---- browser ----------------------------------------------------------------------------------

export async function launch(): Promise<{ browser: Browser; home: string }> {
  const { chromium } = await import('playwright-core');
  // Chromium writes crash reports and caches under HOME: give it a throwaway one.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-webview-home-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: process.env.GLIMPSE_HEADED !== '1',
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
  });
  return { browser, home };
}

/** A command the page posted, as recorded by the stub (a Uint8Array becomes {bytes: length, head}). */
export interface Posted {
  type: string;
  params: Record<string, unknown>;
}

/** The stand-in for VS Code's webview API, run before the page's own scripts. */
function stub(): void {
  const w = window as unknown as Record<string, unknown>;
  const posted: unknown[] = [];
  const violations: string[] = [];
  w.__posted = posted;
  w.__violations = violations;
  w.__stateWrites = 0;
  document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective}: ${e.blockedURI}`));
  let acquired = false;
  const summarize = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return { bytes: v.length, head: Array.from(v.subarray(0, 8)) };
    if (Array.isArray(v)) return v.map(summarize);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, summarize(x)]));
    return v;
  };
  w.acquireVsCodeApi = () => {
    if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
    acquired = true;
    return Object.freeze({
      postMessage(message: unknown) {
        // VS Code structured-clones what a webview posts: anything it cannot clone throws.
        posted.push(summarize(structuredClone(message)));
      },
      getState() {
        const s = sessionStorage.getItem('vscode-state');
        return s ? JSON.parse(s) : undefined;
      },
      setState(state: unknown) {
        sessionStorage.setItem('vscode-state', JSON.stringify(state));
        (w.__stateWrites as number)++;
        return state;
      },
    });
  };
}

export interface Gallery {
  page: Page;
  /** Sends a notification as the extension would. */
  send<K extends NotificationName>(type: K, params: Notifications[K]): Promise<void>;
  /** The commands posted so far (and forgets them with clear). */
  posted(): Promise<Posted[]>;
  clear(): Promise<void>;
  /** Waits for a command of this type and returns it. */
  waitFor(type: string, timeout?: number): Promise<Posted>;
  violations(): Promise<string[]>;
  close(): Promise<void>;
}

export async function openGallery(browser: Browser, server: Server, opts: { theme?: ThemeName; width?: number; height?: number } = {}): Promise<Gallery> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1200, height: opts.height ?? 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[webview] page error: ${err.message}\n`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`[webview] console ${m.type()}: ${m.text()}\n`);
  });
  await page.addInitScript(stub);
  await page.goto(server.url(opts.theme), { waitUntil: 'load' });
  const g: Gallery = {
    page,
    send: async (type, params) => {
      const message = { type, params } as NotificationMessage;
      await page.evaluate((m) => window.postMessage(m, '*'), message);
      // A message event is a task: let it run, and the frame it schedules.
      await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
    },
    posted: () => page.evaluate(() => (window as unknown as { __posted: Posted[] }).__posted.slice()),
    clear: () => page.evaluate(() => void ((window as unknown as { __posted: Posted[] }).__posted.length = 0)),
    waitFor: async (type, timeout = 5000) => {
      const handle = await page.waitForFunction(
        (t) => (window as unknown as { __posted: Posted[] }).__posted.find((m) => m.type === t),
        type,
        { timeout },
      );
      return (await handle.jsonValue()) as Posted;
    },
    violations: () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations.slice()),
    close: () => context.close(),
  };
  return g;
}

/** Resolves after the next frame has been painted. */
export async function painted(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}
