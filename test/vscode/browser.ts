/**
 * Drives code-server's web workbench with Debian's chromium through
 * playwright-core (which never downloads a browser of its own).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { REPO_ROOT, remoteUri, startCodeServer, workbenchUrl, type StartCodeServerOptions } from './code-server';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium';

/** Where screenshots with a relative path go (gitignored). */
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');

export interface LaunchBrowserOptions {
  /** Defaults to true; GLIMPSE_HEADED=1 shows the window where there is a display. */
  headless?: boolean;
  viewport?: { width: number; height: number };
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  profileDir: string;
  close(): Promise<void>;
}

function log(message: string): void {
  process.stderr.write(`[browser] ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function launchBrowser(options: LaunchBrowserOptions = {}): Promise<BrowserSession> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  }
  // A fresh profile each run: no cached workbench state or storage leaks between tests.
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-chromium-'));
  // Chromium puts its crash-report folder and dconf cache under the real HOME
  // whatever the profile folder: give it a home inside the profile.
  const home = path.join(profileDir, 'home');
  fs.mkdirSync(home);
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: options.headless ?? process.env.GLIMPSE_HEADED !== '1',
    args: CHROMIUM_ARGS,
    env: {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_CACHE_HOME: path.join(home, '.cache'),
      XDG_DATA_HOME: path.join(home, '.local', 'share'),
    },
    viewport: options.viewport ?? { width: 1400, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await context.close().catch(() => undefined);
    fs.rmSync(profileDir, { recursive: true, force: true });
  };
  return { context, page, profileDir, close };
}

/**
 * Waits until the workbench takes input: its parts are laid out, the Explorer
 * shows the folder, and the command palette opens.
 */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const left = (): number => Math.max(1000, deadline - Date.now());
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: left() });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ state: 'visible', timeout: left() });
  // The palette is the first thing every scenario uses; it only works once the
  // keybinding and quick-input services are up.
  for (;;) {
    await page.keyboard.press('F1');
    try {
      await page.locator('.quick-input-widget').waitFor({ state: 'visible', timeout: 2000 });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('the command palette did not open');
    }
  }
  await page.keyboard.press('Escape');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: left() });
}

export interface Workbench extends BrowserSession {
  /** Milliseconds from navigation until the workbench was usable. */
  loadMs: number;
}

/**
 * Launches chromium and opens the workbench at `url` on `folder` (the folder
 * query parameter is set from `folder`; other parameters of `url`, such as a
 * development payload, are kept).
 */
export async function openWorkbench(url: string, folder: string, options: LaunchBrowserOptions = {}): Promise<Workbench> {
  const session = await launchBrowser(options);
  try {
    const target = new URL(url);
    target.searchParams.set('folder', path.resolve(folder));
    const started = Date.now();
    await session.page.goto(target.toString(), { waitUntil: 'domcontentloaded' });
    await waitForWorkbench(session.page);
    const loadMs = Date.now() - started;
    log(`workbench usable after ${loadMs} ms`);
    return { ...session, loadMs };
  } catch (err) {
    await session.close();
    throw err;
  }
}

function exactText(text: string): RegExp {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

/**
 * Runs a command by its palette title (category included, e.g. "Stub: Open
 * Panel"). Retries while the command is not listed yet: contributed commands
 * appear some seconds after the workbench. Returns once the palette has
 * closed or given way to the command's own quick input (a picker or VS Code's
 * simple file dialog), which is then left open for the caller to answer.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const input = page.locator('.quick-input-widget input');
  const row = page
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name').filter({ hasText: exactText(title) }) })
    .first();
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    // F1 opens the palette with ">" typed; keep it so the list shows commands.
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: 'visible', timeout: 3000 });
      await row.click();
      // The palette closes, or a command that asks something (a picker, a file dialog) reuses
      // the same quick input: then its text no longer starts with ">".
      await page.waitForFunction(
        () => {
          const widget = document.querySelector<HTMLElement>('.quick-input-widget');
          const box = widget?.querySelector<HTMLInputElement>('input');
          return !widget || widget.style.display === 'none' || widget.offsetParent === null || !box?.value.startsWith('>');
        },
        undefined,
        { timeout: 10_000 },
      );
      return;
    } catch (err) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`command "${title}" not found in the palette: ${String(err)}`);
      await sleep(1000);
    }
  }
}

/** The Explorer row of `fileName` (a name in the open folder's top level or an expanded folder). */
export function explorerItem(page: Page, fileName: string): Locator {
  return page
    .locator('.explorer-folders-view .monaco-list-row')
    .filter({ has: page.locator('.label-name').filter({ hasText: exactText(fileName) }) })
    .first();
}

/**
 * Right-clicks `fileName` in the Explorer and clicks `menuItemLabel`. A
 * contributed item shows up only once the extension's menus are registered,
 * so the menu is reopened until it is there.
 */
export interface ContextMenuOptions {
  timeoutMs?: number;
  /** Takes this screenshot (see screenshot()) while the menu is open. */
  screenshot?: string;
}

export async function explorerContextMenu(
  page: Page,
  fileName: string,
  menuItemLabel: string,
  options: ContextMenuOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const item = explorerItem(page, fileName);
  // Context menus live in a shadow root; role locators pierce it.
  const menu = page.locator('.context-view .monaco-menu');
  const entry = page.getByRole('menuitem', { name: menuItemLabel, exact: true });
  await item.waitFor({ state: 'visible', timeout: timeoutMs });
  for (;;) {
    await item.click({ button: 'right' });
    await menu.first().waitFor({ state: 'visible', timeout: 5000 });
    if ((await entry.count()) > 0) break;
    await page.keyboard.press('Escape');
    if (Date.now() > deadline) throw new Error(`"${menuItemLabel}" is not in the Explorer context menu of ${fileName}`);
    await sleep(1000);
  }
  // A click right after the menu opens is ignored by the menu.
  await sleep(500);
  if (options.screenshot !== undefined) {
    await entry.hover();
    await screenshot(page, options.screenshot);
  }
  await entry.click();
  await menu.first().waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/**
 * The document of the visible webview. Webviews are nested iframes: the
 * outer one hosts VS Code's webview shell, whose #active-frame holds the
 * extension's HTML.
 */
export function webviewFrame(page: Page): FrameLocator {
  return page.locator('iframe.webview.ready:visible').last().contentFrame().locator('#active-frame').contentFrame();
}

/** Saves a PNG of the page; a relative path is taken under test-results/. */
export async function screenshot(page: Page, file: string): Promise<string> {
  const target = path.isAbsolute(file) ? file : path.join(RESULTS_DIR, file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  await page.screenshot({ path: target });
  const shown = path.relative(REPO_ROOT, target);
  log(`screenshot ${shown.startsWith('..') ? target : shown}`);
  return target;
}

// ---------------------------------------------------------------------------

export interface RunExtensionTestsOptions {
  /** The folder the workbench opens while the tests run. */
  folder: string;
  /** The extension under test (a folder with package.json). */
  extensionDevelopmentPath: string;
  /** A CommonJS module exporting `run(): Promise<void>`, as with @vscode/test-electron. */
  extensionTestsPath: string;
  settings?: Record<string, unknown>;
  /** Extra environment for the extension host. */
  env?: NodeJS.ProcessEnv;
  /** Whole run, server start included; defaults to 5 minutes. */
  timeoutMs?: number;
  /** Receives each line of output from the extension host (mocha's report); defaults to stdout. */
  output?: (line: string) => void;
}

/**
 * In test mode the workbench relays the extension host's console through its
 * own log service, mixed with its own log lines and without any mark of
 * origin. So the tests entry is wrapped in a shim that prefixes everything the
 * extension host prints with this mark (an invisible separator and a tag).
 */
const EXT_HOST_MARK = '\u2063[ext-host] ';

function testsShimSource(realTestsPath: string): string {
  return `'use strict';
const util = require('util');
const mark = ${JSON.stringify(EXT_HOST_MARK)};
// VS Code makes console.log & co. read-only accessors that forward to the
// workbench, so the global console itself is swapped for one that marks each
// message, formatted here, before handing it to VS Code's forwarder. Its
// wrapper of process.stdout/stderr.write goes through the global console too.
const forwarder = console;
const marking = Object.create(forwarder);
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  Object.defineProperty(marking, level, {
    value: (...args) => forwarder[level](mark + util.format(...args)),
  });
}
globalThis.console = marking;
const tests = require(${JSON.stringify(realTestsPath)});
// VS Code calls run(testsRoot, callback) and also accepts a returned promise.
exports.run = (_testsRoot, callback) => tests.run(${JSON.stringify(realTestsPath)}, callback);
`;
}

/** The text of an extension host console message, or undefined for the workbench's own messages. */
function extensionHostText(message: ConsoleMessage): string | undefined {
  const text = message.text();
  const at = text.indexOf(EXT_HOST_MARK);
  return at < 0 ? undefined : text.slice(at + EXT_HOST_MARK.length);
}

/**
 * Runs an extension's test suite inside the extension host of a fresh
 * code-server, the way @vscode/test-web does: the workbench gets the
 * extension and the tests entry through its `payload` URL parameter and, when
 * the suite ends, calls `window.codeAutomationExit(code)`. Resolves to that
 * exit code (0 when every test passed).
 */
export async function runExtensionTests(options: RunExtensionTestsOptions): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;
  const output = options.output ?? ((line: string) => process.stdout.write(`${line}\n`));
  const serverOptions: StartCodeServerOptions = { folder: options.folder, settings: options.settings, env: options.env };
  const server = await startCodeServer(serverOptions);
  let session: BrowserSession | undefined;
  const workbenchErrors: string[] = [];
  try {
    session = await launchBrowser();
    const { page } = session;
    let settle: (code: number) => void = () => undefined;
    const exitCode = new Promise<number>((resolve) => {
      settle = resolve;
    });
    await page.exposeFunction('codeAutomationExit', (code: unknown) => {
      settle(typeof code === 'number' ? code : 1);
    });
    // VS Code from about 1.139 honours the payload only with the smoke-test
    // driver enabled in the page's configuration; 1.100 does not need it, and
    // it does no harm. The page must not be rewritten through page.route:
    // chromium then blocks the workbench's WebSocket.
    await page.addInitScript(() => {
      const id = 'vscode-workbench-web-configuration';
      const patch = (element: Element): void => {
        try {
          const settings = JSON.parse(element.getAttribute('data-settings') ?? '{}') as {
            developmentOptions?: Record<string, unknown>;
          };
          settings.developmentOptions = { ...settings.developmentOptions, enableSmokeTestDriver: true };
          element.setAttribute('data-settings', JSON.stringify(settings));
        } catch {
          // Not our page.
        }
      };
      new MutationObserver((_records, observer) => {
        const element = document.getElementById(id);
        if (element) {
          patch(element);
          observer.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    });
    const verbose = process.env.GLIMPSE_E2E_VERBOSE === '1';
    page.on('console', (message) => {
      if (verbose) process.stderr.write(`[workbench console] ${message.type()}: ${message.text()}\n`);
      const text = extensionHostText(message);
      if (text !== undefined) {
        // console.log ends each message with a newline of its own.
        for (const line of text.replace(/\n$/, '').split('\n')) output(line);
      } else if (message.type() === 'error') {
        workbenchErrors.push(message.text());
      }
    });
    page.on('pageerror', (error) => workbenchErrors.push(`page error: ${error.message}`));

    const shim = path.join(server.scratch, 'extension-tests-shim.js');
    fs.writeFileSync(shim, testsShimSource(path.resolve(options.extensionTestsPath)));
    const url = workbenchUrl(server.baseUrl, options.folder, [
      ['extensionDevelopmentPath', remoteUri(server.port, path.resolve(options.extensionDevelopmentPath))],
      ['extensionTestsPath', remoteUri(server.port, shim)],
    ]);
    await page.goto(url, { waitUntil: 'domcontentloaded' });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`extension tests did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const code = await Promise.race([exitCode, timeout]);
      if (code !== 0 && workbenchErrors.length > 0) {
        process.stderr.write(`[browser] workbench errors:\n${workbenchErrors.slice(-20).join('\n')}\n`);
      }
      return code;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await session?.close();
    await server.stop();
  }
}
