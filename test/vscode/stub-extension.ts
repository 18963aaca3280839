/**
 * A throwaway Node extension, written to a temp folder at test time, that
 * exercises what Glimpse needs from a real VS Code: a palette command, an
 * Explorer context-menu entry on images, a native module (sharp) loaded in the
 * extension host, a webview, and mocha running inside the extension host.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './code-server';

export const STUB_ID = 'glimpse-test.glimpse-stub';
export const STUB_PALETTE_TITLE = 'Stub: Open Panel';
export const STUB_MENU_LABEL = 'Show Image Size (Stub)';

export interface StubExtension {
  /** The extension folder (extensionDevelopmentPath). */
  extensionPath: string;
  /** Tests entry whose suite passes. */
  passingTestsPath: string;
  /** Tests entry whose suite has a failing test, to check the exit code path. */
  failingTestsPath: string;
}

export interface StubImage {
  fileName: string;
  width: number;
  height: number;
}

function manifest(): object {
  return {
    name: 'glimpse-stub',
    displayName: 'Glimpse Stub',
    publisher: 'glimpse-test',
    version: '0.0.1',
    license: 'MIT',
    engines: { vscode: '^1.100.0' },
    main: './extension.js',
    activationEvents: [],
    contributes: {
      commands: [
        { command: 'glimpseStub.openPanel', title: 'Open Panel', category: 'Stub' },
        { command: 'glimpseStub.showImageSize', title: STUB_MENU_LABEL },
      ],
      menus: {
        'explorer/context': [
          {
            command: 'glimpseStub.showImageSize',
            when: 'resourceExtname =~ /\\.(png|jpe?g)$/i',
            group: 'navigation',
          },
        ],
        commandPalette: [{ command: 'glimpseStub.showImageSize', when: 'false' }],
      },
    },
  };
}

// The extension is plain CommonJS so it needs no build step. Modules come from
// the project's node_modules by absolute path: the extension lives in a temp
// folder, and this is how the native module gets into the extension host.
function extensionSource(sharpPath: string): string {
  return `'use strict';
const path = require('path');
const vscode = require('vscode');
const sharp = require(${JSON.stringify(sharpPath)});

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function firstImage() {
  const [uri] = await vscode.workspace.findFiles('**/*.{png,jpg,jpeg}', undefined, 1);
  if (!uri) throw new Error('no image in the workspace');
  return uri;
}

async function openPanel(uri, how) {
  const target = uri instanceof vscode.Uri ? uri : await firstImage();
  const { width, height, format } = await sharp(target.fsPath).metadata();
  const name = path.basename(target.fsPath);
  const panel = vscode.window.createWebviewPanel('glimpseStub.panel', 'Stub: ' + name, vscode.ViewColumn.One, {});
  panel.webview.html = \`<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">
<style>body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 2em; }
#size { font-size: 48px; margin: 0.2em 0; }</style></head>
<body>
<p id="how">opened from the \${escapeHtml(how)}</p>
<h1 id="size">\${width} × \${height}</h1>
<p id="file">\${escapeHtml(name)} (\${escapeHtml(format)})</p>
<p id="sharp">sharp \${escapeHtml(sharp.versions.sharp)}, libvips \${escapeHtml(sharp.versions.vips)}, Node \${escapeHtml(process.versions.node)} in the extension host</p>
</body></html>\`;
  return { width, height, name };
}

exports.activate = function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('glimpseStub.openPanel', (uri) => openPanel(uri, 'command palette')),
    vscode.commands.registerCommand('glimpseStub.showImageSize', (uri) => openPanel(uri, 'Explorer context menu')),
  );
  return { sharpVersion: sharp.versions.sharp };
};

exports.deactivate = function deactivate() {};
`;
}

function testsEntrySource(mochaPath: string, testFile: string): string {
  return `'use strict';
const path = require('path');
const { pathToFileURL } = require('url');

// Called by VS Code in the extension host once the extension is loaded.
exports.run = async function run() {
  // mocha 12 is an ES module.
  const { default: Mocha } = await import(pathToFileURL(${JSON.stringify(mochaPath)}).href);
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60000, reporter: 'spec' });
  mocha.addFile(path.join(__dirname, ${JSON.stringify(testFile)}));
  await mocha.loadFilesAsync();
  const failures = await new Promise((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(failures + ' test(s) failed');
};
`;
}

function passingTestSource(image: StubImage): string {
  return `'use strict';
const assert = require('assert');
const vscode = require('vscode');

describe('stub extension in the extension host', () => {
  it('runs its command, which reads the image with sharp', async () => {
    const result = await vscode.commands.executeCommand('glimpseStub.openPanel');
    assert.deepStrictEqual(result, { width: ${image.width}, height: ${image.height}, name: ${JSON.stringify(image.fileName)} });
  });

  it('is active and exports what activate returned', () => {
    const extension = vscode.extensions.getExtension(${JSON.stringify(STUB_ID)});
    assert.ok(extension, 'extension not found');
    assert.strictEqual(extension.isActive, true);
    assert.match(extension.exports.sharpVersion, /^\\d+\\.\\d+\\.\\d+/);
  });

  it('shows the webview as a tab', async () => {
    // The new webview reaches window.tabGroups slightly after the command returns.
    const deadline = Date.now() + 10000;
    for (;;) {
      const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs);
      if (tabs.some((tab) => tab.input instanceof vscode.TabInputWebview && tab.label === 'Stub: ${image.fileName}')) return;
      if (Date.now() > deadline) assert.fail('no webview tab; tabs: ' + tabs.map((tab) => tab.label).join(', '));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  it('sees the workspace folder', () => {
    assert.strictEqual(vscode.workspace.workspaceFolders?.length, 1);
  });
});
`;
}

function failingTestSource(): string {
  return `'use strict';
const assert = require('assert');
const vscode = require('vscode');

describe('a suite that must fail', () => {
  it('passes', async () => {
    assert.ok(await vscode.commands.getCommands(true));
  });
  it('fails on purpose', () => {
    assert.strictEqual(1 + 1, 3);
  });
});
`;
}

/** Writes the stub extension into `dir` (created if missing). */
export function writeStubExtension(dir: string, image: StubImage): StubExtension {
  const nodeModules = path.join(REPO_ROOT, 'node_modules');
  const files: Record<string, string> = {
    'package.json': JSON.stringify(manifest(), null, 2) + '\n',
    'extension.js': extensionSource(path.join(nodeModules, 'sharp')),
    // vsce refuses to package without one.
    'LICENSE': 'MIT\n',
    'suite/passing.js': testsEntrySource(path.join(nodeModules, 'mocha', 'index.js'), 'passing.test.js'),
    'suite/passing.test.js': passingTestSource(image),
    'suite/failing.js': testsEntrySource(path.join(nodeModules, 'mocha', 'index.js'), 'failing.test.js'),
    'suite/failing.test.js': failingTestSource(),
  };
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return {
    extensionPath: dir,
    passingTestsPath: path.join(dir, 'suite', 'passing.js'),
    failingTestsPath: path.join(dir, 'suite', 'failing.js'),
  };
}
