/**
 * Glimpse inside a real extension host (code-server; see ../glimpse.e2e.ts, which starts this
 * suite with runExtensionTests on a copy of the test album): commands, settings, diagnostics,
 * and the gallery panel's handling of forged webview messages.
 *
 * GLIMPSE_TEST_ALBUM holds the album's description (a TestAlbum, ../albums.ts) as JSON.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GlimpseApi } from '../../../src/extension/main';
import type { TestAlbum } from '../albums';
import type { DiagnosticsReport } from '../../../src/extension/indexService';

const EXTENSION_ID = 'glimpse-dev.glimpse';


function album(): TestAlbum {
  const raw = process.env.GLIMPSE_TEST_ALBUM;
  if (!raw) throw new Error('GLIMPSE_TEST_ALBUM is not set: run this suite through test/vscode/glimpse.e2e.ts');
  return JSON.parse(raw) as TestAlbum;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function api(): Promise<GlimpseApi> {
  const extension = vscode.extensions.getExtension<GlimpseApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not installed`);
  return extension.isActive ? extension.exports : extension.activate();
}

/**
 * Replaces a method of the `vscode` API object for the duration of a test. The extension and
 * these tests live in the same extension folder, so the extension host gives both the same API
 * object, and the extension sees the replacement.
 */
function replace<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): () => void {
  const original = target[key];
  target[key] = value;
  assert.equal(target[key], value, `could not replace ${String(key)}`);
  return () => {
    target[key] = original;
  };
}

describe('Glimpse in the extension host', function () {
  this.timeout(120_000);
  const a = album();
  const photos = a.files.filter((f) => /\.(jpe?g|png)$/i.test(f));

  it('activates on a workspace holding photos and exports its API', async () => {
    const extension = vscode.extensions.getExtension<GlimpseApi>(EXTENSION_ID);
    assert.ok(extension);
    // activationEvents: workspaceContains an image; nothing here activated it on purpose.
    await until('activation', () => extension.isActive);
    const exports = extension.exports;
    assert.equal(typeof exports.gallery, 'function');
    assert.ok(exports.service);
    assert.deepEqual(exports.service.roots(), [a.root]);
  });

  it('registers every command it contributes', async () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, ['glimpse._diagnostics', 'glimpse.findSimilarFaces', 'glimpse.indexMenu', 'glimpse.rebuildIndex', 'glimpse.showLog', 'glimpse.toggleIndexing']);
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const id of contributed) assert.ok(registered.has(id), `${id} is not registered`);
  });

  it('contributes its settings with their defaults', () => {
    const c = vscode.workspace.getConfiguration('glimpse');
    const defaults: Record<string, unknown> = {
      threshold: null,
      maxFileSizeMB: 16,
      model: 'mobilefacenet',
      indexOnStartup: true,
      include: [],
      exclude: [],
    };
    for (const [key, value] of Object.entries(defaults)) {
      const inspected = c.inspect(key);
      assert.ok(inspected, `glimpse.${key} is not contributed`);
      assert.deepEqual(inspected.defaultValue, value, `default of glimpse.${key}`);
      assert.equal(inspected.globalValue, undefined, `glimpse.${key} is set in the user settings`);
    }
  });

  it('answers glimpse._diagnostics, and indexes the album in the background without blocking the host', async () => {
    const first = await vscode.commands.executeCommand<DiagnosticsReport>('glimpse._diagnostics');
    assert.equal(typeof first.activationMs, 'number');
    assert.ok(first.activationMs > 0 && first.activationMs < 5000, `activation took ${first.activationMs} ms`);
    // indexOnStartup: the service indexes the album on its own.
    const done = await until(
      'the index of the album',
      async () => {
        const d = await vscode.commands.executeCommand<DiagnosticsReport>('glimpse._diagnostics');
        return d.progress.state === 'idle' && d.progress.photos === photos.length ? d : undefined;
      },
      180_000,
    );
    assert.equal(done.progress.failed, 0);
    assert.ok(done.progress.faces >= photos.length, `${done.progress.faces} faces in ${photos.length} photos`);
    assert.ok(done.workerPid && done.workerPid !== process.pid, 'indexing runs in a child process');
    assert.ok(done.maxEventLoopBlockMs > 0, 'the event-loop monitor ran while indexing');
    console.log(
      `      diagnostics: activation ${done.activationMs.toFixed(1)} ms; extension-host event loop while indexing ${photos.length} photos: ` +
        `max block ${done.maxEventLoopBlockMs.toFixed(1)} ms, p99 ${done.p99EventLoopBlockMs.toFixed(1)} ms; worker pid ${done.workerPid}`,
    );
    assert.ok(done.maxEventLoopBlockMs < 1000, `the extension host was blocked for ${done.maxEventLoopBlockMs} ms`);
  });

  it('keeps the face store and thumbnails in global storage, one per machine for every workspace', async () => {
    const d = await vscode.commands.executeCommand<DiagnosticsReport>('glimpse._diagnostics');
    const glimpse = await api();
    assert.match(d.cacheDir, /[\\/]globalStorage[\\/]glimpse-dev\.glimpse[\\/]index$/);
    assert.ok(fs.existsSync(path.join(d.cacheDir, 'faces.sqlite')));
    assert.equal(path.dirname(glimpse.service.thumbsDir()), path.dirname(d.cacheDir));
    assert.ok(fs.readdirSync(path.join(d.cacheDir, 'locks')).every((f) => /^album-[0-9a-f]{16}\.lock$/.test(f)));
  });

  describe('gallery messages', () => {
    let glimpse: GlimpseApi;
    let gallery: NonNullable<ReturnType<GlimpseApi['gallery']>>;
    let work: string;
    const dialogs: string[] = [];
    const commands: string[] = [];
    let saveTo: vscode.Uri | undefined;
    const restore: (() => void)[] = [];

    before(async () => {
      glimpse = await api();
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-host-'));
      // Dialogs would wait for a user: record them instead, and answer as a user would.
      restore.push(
        replace(vscode.window, 'showSaveDialog', async (options?: vscode.SaveDialogOptions) => {
          dialogs.push(`save ${options?.defaultUri?.fsPath ?? ''}`);
          return saveTo;
        }),
        replace(vscode.window, 'showOpenDialog', async (options?: vscode.OpenDialogOptions) => {
          dialogs.push(`open ${options?.title ?? ''}`);
          return undefined;
        }),
      );
      const execute = vscode.commands.executeCommand;
      restore.push(
        replace(vscode.commands, 'executeCommand', (async (command: string, ...rest: unknown[]) => {
          if (command === 'vscode.open' || command === 'revealInExplorer') commands.push(`${command} ${(rest[0] as vscode.Uri | undefined)?.fsPath}`);
          return execute(command, ...rest);
        }) as typeof vscode.commands.executeCommand),
      );

      await vscode.commands.executeCommand('glimpse.findSimilarFaces', vscode.Uri.file(path.join(a.root, a.first.query)));
      gallery = await until('the gallery panel', () => glimpse.gallery());
      await until('the results', () => gallery.results().length >= a.first.photos.length || undefined);
    });

    after(() => {
      for (const r of restore.reverse()) r();
      gallery?.panel.dispose();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    function resultOf(rel: string): { id: number; file: string } {
      const r = gallery.results().find((x) => x.file === path.join(a.root, rel));
      assert.ok(r, `${rel} is not among the results: ${gallery.results().map((x) => path.relative(a.root, x.file)).join(', ')}`);
      return r;
    }

    it('knows the person: the results are exactly their photos', () => {
      const files = gallery.results().map((r) => path.relative(a.root, r.file).split(path.sep).join('/'));
      for (const rel of a.first.photos) assert.ok(files.includes(rel), `${rel} missing from ${files.join(', ')}`);
    });

    it('refuses forged messages: nothing written, nothing opened, each one logged', async () => {
      const valid = resultOf(a.first.photos[1]).id;
      const unknownId = 987_654;
      const canary = path.join(work, 'canary.jpg');
      const passwd = fs.existsSync('/etc/passwd') ? fs.statSync('/etc/passwd').mtimeMs : undefined;
      const title = gallery.panel.title;
      const albumUri = vscode.Uri.file(a.root).toString();
      const forged: [unknown, RegExp][] = [
        [null, /not a message/],
        ['open', /not a message/],
        [[{ type: 'open', params: { id: valid } }], /not a message/],
        [{ type: 42, params: {} }, /not a message/],
        [{ type: 'deleteEverything', params: {} }, /unknown command "deleteEverything"/],
        [{ type: 'constructor', params: {} }, /unknown command/],
        [{ type: '__proto__', params: {} }, /unknown command/],
        [{ type: 'open' }, /malformed open/],
        [{ type: 'open', params: { id: valid, path: '/etc/passwd' } }, /malformed open/],
        [{ type: 'open', params: { id: valid }, path: '/etc/passwd' }, /unexpected field "path"/],
        [{ type: 'open', params: { id: '1' } }, /malformed open/],
        [{ type: 'open', params: { id: -1 } }, /malformed open/],
        [{ type: 'open', params: { id: 1.5 } }, /malformed open/],
        [{ type: 'save', params: { id: valid, path: '/etc/passwd' } }, /malformed save/],
        [{ type: 'save', params: { id: valid, highlights: false, path: canary } }, /malformed save/],
        [{ type: 'save', params: { id: unknownId, highlights: false } }, /save: unknown result id 987654/],
        [{ type: 'save', params: { id: unknownId, highlights: true } }, /save: unknown result id/],
        [{ type: 'open', params: { id: unknownId } }, /open: unknown result id/],
        [{ type: 'reveal', params: { id: unknownId } }, /reveal: unknown result id/],
        [{ type: 'preview', params: { id: unknownId } }, /preview: unknown result id/],
        [{ type: 'saveAll', params: { ids: [valid, unknownId], highlights: false } }, /saveAll: unknown result id/],
        [{ type: 'saveAll', params: { ids: new Array(10_001).fill(valid), highlights: false } }, /malformed saveAll/],
        [{ type: 'dropUri', params: { uri: 'file:///etc/passwd' } }, /dropUri: dropped \/etc\/passwd/],
        [{ type: 'dropUri', params: { uri: 'file:///album/../etc/x.jpg' } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `${albumUri}/../outside.jpg` } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `${albumUri}/${a.first.query.split('/')[0]}/%2E%2E/%2E%2E/x.jpg` } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `${albumUri}/./${a.first.query}` } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `${albumUri}/x/../${a.first.query}` } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `${albumUri}/notes.txt` } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `file://otherhost${a.root}/${a.first.query}` } }, /dropUri: dropped/],
        [{ type: 'dropUri', params: { uri: `https://example.com/${a.first.query}` } }, /dropUri: dropped https:/],
        [{ type: 'dropUri', params: { uri: `vscode-userdata:${a.root}/${a.first.query}` } }, /dropUri: dropped vscode-userdata:/],
        [{ type: 'dropUri', params: { uri: `untitled:${a.first.query}` } }, /dropUri: dropped untitled:/],
        [{ type: 'dropUri', params: { uri: 'vscode-remote://some-host/etc/passwd' } }, /dropUri: dropped vscode-remote:/],
        [{ type: 'dropUri', params: { uri: `vscode-remote://some-host${a.root}/../x.jpg` } }, /dropUri: dropped vscode-remote:/],
        [{ type: 'dropUri', params: { uri: '' } }, /malformed dropUri/],
        [{ type: 'dropUri', params: { uri: `${albumUri}/${'x/'.repeat(3000)}a.jpg` } }, /malformed dropUri/],
        [{ type: 'dropFile', params: { name: 'x.jpg', bytes: 'not bytes' } }, /malformed dropFile/],
        [{ type: 'dropFile', params: { name: 'x.jpg', bytes: new Uint8Array(0) } }, /malformed dropFile/],
        [{ type: 'state', params: { threshold: 5, sort: 'similarity' } }, /malformed state/],
        [{ type: 'state', params: { threshold: 0.5, sort: 'random' } }, /malformed state/],
        [{ type: 'selectFace', params: { search: 1, face: -2 } }, /malformed selectFace/],
      ];
      for (const [message, reason] of forged) {
        const before = gallery.refusals.length;
        await gallery.receive(message);
        const what = JSON.stringify(message)?.slice(0, 120);
        assert.equal(gallery.refusals.length, before + 1, `not refused: ${what}`);
        assert.match(gallery.refusals[gallery.refusals.length - 1], reason, what);
      }
      await sleep(500);
      assert.deepEqual(dialogs, [], 'a dialog was shown');
      assert.deepEqual(commands, [], 'something was opened or revealed');
      assert.ok(!fs.existsSync(canary), 'the canary was written');
      assert.deepEqual(fs.readdirSync(work), []);
      if (passwd !== undefined) assert.equal(fs.statSync('/etc/passwd').mtimeMs, passwd);
      assert.equal(gallery.panel.title, title, 'a forged drop started a search');
      assert.equal(glimpse.gallery(), gallery);
    });

    it('still handles well-formed messages', async () => {
      const refused = gallery.refusals.length;
      const second = resultOf(a.first.photos[1]);

      // save: the path comes from the dialog only.
      saveTo = vscode.Uri.file(path.join(work, 'copy.jpg'));
      await gallery.receive({ type: 'save', params: { id: second.id, highlights: false } });
      assert.deepEqual(dialogs, [`save ${path.join(os.homedir(), 'Pictures', path.basename(second.file))}`]);
      assert.ok(fs.readFileSync(saveTo.fsPath).equals(fs.readFileSync(second.file)), 'the copy differs from the photo');

      // The user cancels the dialog: nothing is written.
      saveTo = undefined;
      await gallery.receive({ type: 'save', params: { id: second.id, highlights: true } });
      assert.equal(dialogs.length, 2);
      assert.match(dialogs[1], new RegExp(`^save ${work.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/.*-faces\\.jpg$`), 'the second dialog opens where the first saved');
      assert.deepEqual(fs.readdirSync(work), ['copy.jpg']);

      await gallery.receive({ type: 'open', params: { id: second.id } });
      assert.deepEqual(commands, [`vscode.open ${second.file}`]);
      await gallery.receive({ type: 'state', params: { threshold: 0.5, sort: 'name', size: 240 } });

      // A drop of an album photo searches for it.
      const dropped = path.join(a.root, a.second.query);
      await gallery.receive({ type: 'dropUri', params: { uri: vscode.Uri.file(dropped).toString() } });
      assert.equal(gallery.panel.title, `Similar Faces: ${path.basename(dropped)}`);
      await until('the results of the drop', () => gallery.results().some((r) => r.file === dropped) || undefined);
      // code-server's extension host is a remote one: its Explorer drags vscode-remote URIs.
      assert.notEqual(vscode.env.remoteName, undefined, 'not a remote extension host');
      const remote = path.join(a.root, a.third.query);
      await gallery.receive({ type: 'dropUri', params: { uri: `vscode-remote://127.0.0.1:1234${vscode.Uri.file(remote).path}` } });
      assert.equal(gallery.panel.title, `Similar Faces: ${path.basename(remote)}`);
      assert.equal(gallery.refusals.length, refused, `refused: ${gallery.refusals.slice(refused).join('; ')}`);
    });
  });

  describe('album filter and symbolic links', () => {
    const diagnostics = () => vscode.commands.executeCommand<DiagnosticsReport>('glimpse._diagnostics');
    const settled = (what: string, photos: number) =>
      until(what, async () => {
        const d = await diagnostics();
        return d.progress.state === 'idle' && d.progress.photos === photos ? d : undefined;
      });

    it('applies a change of files.exclude without restarting the index service, and nothing is computed again', async () => {
      const glimpse = await api();
      const before = await settled('the index of the album', photos.length);
      const rel = photos[0];
      const files = vscode.workspace.getConfiguration('files');
      await files.update('exclude', { ...(files.get<Record<string, boolean>>('exclude') ?? {}), [rel]: true }, vscode.ConfigurationTarget.Workspace);
      try {
        await settled(`${rel} to leave the index`, photos.length - 1);
        assert.equal(glimpse.service.filter().accepts(path.join(a.root, rel)), undefined, 'the gallery refuses it too');
      } finally {
        await files.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
      }
      const after = await settled(`${rel} to come back`, photos.length);
      assert.equal(after.progress.computed, 0, 'it comes back from the cache');
      assert.equal(after.workerPid, before.workerPid, 'the same index service');
      assert.ok(glimpse.service.filter().accepts(path.join(a.root, rel)));
    });

    it('indexes a symlinked folder that leads out of the album, and sees photos added there', async () => {
      const glimpse = await api();
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-linked-'));
      const link = path.join(a.root, 'Linked');
      try {
        fs.copyFileSync(path.join(a.root, photos[0]), path.join(outside, 'first.jpg'));
        fs.symlinkSync(outside, link);
        // The link's own name is no photo's: the roots' watchers say nothing; the next scan finds it.
        await glimpse.service.pause();
        await glimpse.service.resume();
        await settled('the photo behind the link', photos.length + 1);
        fs.copyFileSync(path.join(a.root, photos[1]), path.join(outside, 'SECOND.JPG'));
        const d = await settled('a photo added behind the link (seen by the watcher there)', photos.length + 2);
        assert.equal(d.progress.failed, 0);
      } finally {
        fs.rmSync(link, { force: true });
        fs.rmSync(outside, { recursive: true, force: true });
      }
    });
  });
});
