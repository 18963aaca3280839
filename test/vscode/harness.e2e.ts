/**
 * End-to-end check of the test harness itself, with a stub extension:
 * code-server + chromium drive a real workbench (palette, Explorer context
 * menu, webview, screenshot), and mocha runs inside the extension host.
 *
 *   npx tsc -p . && npx mocha --timeout 300000 out/test/vscode/harness.e2e.js
 *
 * Named *.e2e.ts so the unit-test glob (out/test/**\/*.test.js) skips it.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { explorerContextMenu, openWorkbench, runCommand, runExtensionTests, screenshot, webviewFrame, type Workbench } from './browser';
import { ensureCodeServer, REPO_ROOT, startCodeServer, type RunningCodeServer } from './code-server';
import { STUB_MENU_LABEL, STUB_PALETTE_TITLE, writeStubExtension, type StubExtension, type StubImage } from './stub-extension';

const SAMPLE_JPEG = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo', 'sample1.jpg');

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function note(message: string): void {
  process.stderr.write(`[harness] ${message}\n`);
}

function packageVsix(extensionPath: string, out: string): void {
  const vsce = path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const result = spawnSync(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', out],
    { cwd: extensionPath, encoding: 'utf8' },
  );
  assert.equal(result.status, 0, `vsce package failed:\n${result.stdout}\n${result.stderr}`);
}

describe('real VS Code harness (code-server + chromium)', function () {
  this.timeout(300_000);

  let work: string;
  let album: string;
  let stub: StubExtension;
  let image: StubImage;

  before(async function () {
    // A cold cache installs code-server (about a minute); later runs skip it.
    this.timeout(20 * 60_000);
    const installStarted = Date.now();
    await ensureCodeServer();
    note(`ensureCodeServer: ${seconds(installStarted)}`);

    work = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-harness-'));
    album = path.join(work, 'album');
    fs.mkdirSync(album);
    image = { fileName: 'photo.png', width: 0, height: 0 };
    const info = await sharp(SAMPLE_JPEG).png().toFile(path.join(album, image.fileName));
    image = { ...image, width: info.width, height: info.height };
    fs.writeFileSync(path.join(album, 'notes.txt'), 'not an image\n');
    stub = writeStubExtension(path.join(work, 'stub-extension'), image);
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('UI scenario with the stub installed from a VSIX', function () {
    let server: RunningCodeServer | undefined;
    let workbench: Workbench | undefined;

    after(async function () {
      await workbench?.close();
      await server?.stop();
    });

    it('runs the command from the palette and from the Explorer context menu, and shows the webview', async function () {
      const started = Date.now();
      const vsix = path.join(work, 'glimpse-stub.vsix');
      packageVsix(stub.extensionPath, vsix);
      note(`vsce package: ${seconds(started)}`);

      const serverStarted = Date.now();
      server = await startCodeServer({ folder: album, vsix, colorTheme: 'Default Light Modern' });
      note(`startCodeServer (with VSIX install): ${seconds(serverStarted)}`);

      workbench = await openWorkbench(server.url, album);
      const { page } = workbench;
      const expectedSize = `${image.width} × ${image.height}`;

      await runCommand(page, STUB_PALETTE_TITLE);
      const frame = webviewFrame(page);
      await frame.locator('#size').waitFor({ timeout: 30_000 });
      assert.equal((await frame.locator('#size').textContent())?.trim(), expectedSize);
      assert.equal(await frame.locator('#how').textContent(), 'opened from the command palette');
      assert.match((await frame.locator('#sharp').textContent()) ?? '', /^sharp \d+\.\d+\.\d+, libvips /);
      await screenshot(page, 'vscode-harness/palette.png');

      await runCommand(page, 'View: Close All Editors');
      await explorerContextMenu(page, image.fileName, STUB_MENU_LABEL, { screenshot: 'vscode-harness/context-menu-open.png' });
      const fromMenu = webviewFrame(page);
      await fromMenu.locator('#how').filter({ hasText: 'Explorer context menu' }).waitFor({ timeout: 30_000 });
      assert.equal((await fromMenu.locator('#size').textContent())?.trim(), expectedSize);
      assert.equal(await fromMenu.locator('#file').textContent(), `${image.fileName} (png)`);
      const shot = await screenshot(page, 'vscode-harness/webview-from-context-menu.png');
      assert.ok(fs.statSync(shot).size > 10_000, 'screenshot looks empty');
      note(`UI scenario: ${seconds(started)} (workbench usable after ${workbench.loadMs} ms)`);
    });
  });

  describe('mocha inside the extension host', function () {
    it('passes a passing suite with exit code 0', async function () {
      const started = Date.now();
      const lines: string[] = [];
      const code = await runExtensionTests({
        folder: album,
        extensionDevelopmentPath: stub.extensionPath,
        extensionTestsPath: stub.passingTestsPath,
        output: (line) => {
          lines.push(line);
          process.stdout.write(`    | ${line}\n`);
        },
      });
      note(`runExtensionTests (passing suite): ${seconds(started)}`);
      assert.equal(code, 0);
      assert.ok(
        lines.some((line) => /4 passing/.test(line)),
        `mocha's report did not come through:\n${lines.join('\n')}`,
      );
    });

    it('reports a failing suite with a non-zero exit code', async function () {
      const started = Date.now();
      const lines: string[] = [];
      const code = await runExtensionTests({
        folder: album,
        extensionDevelopmentPath: stub.extensionPath,
        extensionTestsPath: stub.failingTestsPath,
        output: (line) => lines.push(line),
      });
      note(`runExtensionTests (failing suite): ${seconds(started)}`);
      assert.notEqual(code, 0);
      assert.ok(lines.some((line) => /1 failing/.test(line)), `no failure report:\n${lines.join('\n')}`);
    });
  });
});
