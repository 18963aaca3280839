/**
 * The extension's handle on the index service (a child process, see engine/index/worker.ts):
 * starts it for the workspace folders, restarts it after a crash, follows file changes, shows
 * progress in the status bar and lists per-file problems in the output channel.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import path from 'node:path';
import * as vscode from 'vscode';
import { AlbumFilter } from '../engine/album-filter';
import type { LinkedPlace } from '../engine/album-walk';
import { anyCaseGlob, IMAGE_EXTENSIONS } from '../engine/image-types';
import { IndexServiceClient } from '../engine/index/client';
import type { RequestName, ServiceEvent, ServiceProgress, ServiceRequests } from '../engine/index/service-protocol';
import { readSettings, type Settings } from './settings';

/** Every photo extension in any case; the index service's filter then takes what its sharp decodes. */
const IMAGE_GLOB = anyCaseGlob(IMAGE_EXTENSIONS);
/** Watchers on the places symbolic links lead to, at most (each is a native watch of its own). */
const MAX_LINK_WATCHERS = 64;

/** What the command `glimpse._diagnostics` returns (tests and measurement scripts read it). */
export type DiagnosticsReport = Diagnostics & { progress: ServiceProgress };

export interface Diagnostics {
  /** Longest event-loop delay of the extension host while the last indexing ran, ms. */
  maxEventLoopBlockMs: number;
  p99EventLoopBlockMs: number;
  activationMs: number;
  workerPid?: number;
  restarts: number;
  /** The face store's folder (global storage: one per machine). */
  cacheDir: string;
}

export class IndexService implements vscode.Disposable {
  private client?: IndexServiceClient;
  private ready?: Promise<void>;
  private disposables: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  private linkWatchers: vscode.Disposable[] = [];
  /** The formats the index service's sharp decodes, once it said; until then every image extension. */
  private extensions: readonly string[] = IMAGE_EXTENSIONS;
  private albumFilter?: AlbumFilter;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly progressed = new vscode.EventEmitter<ServiceProgress>();
  readonly onDidChangeIndex = this.changed.event;
  readonly onDidProgress = this.progressed.event;
  private pendingPaths = new Set<string>();
  private pathsTimer?: NodeJS.Timeout;
  private restarts = 0;
  private reportedFailures = new Set<string>();
  private shownError?: string;
  private loopDelay?: IntervalHistogram;
  private lastLoop = { max: 0, p99: 0 };
  private settings: Settings;
  last: ServiceProgress = { state: 'starting', done: 0, total: 0, computed: 0, reused: 0, failed: 0, photos: 0, faces: 0 };
  activationMs = 0;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.settings = readSettings();
    this.statusItem = vscode.window.createStatusBarItem('glimpse.index', vscode.StatusBarAlignment.Left, 10);
    this.statusItem.name = 'Glimpse index';
    this.statusItem.command = 'glimpse.indexMenu';
    this.disposables.push(this.statusItem, this.changed, this.progressed);
  }

  /** Album roots: every workspace folder on disk. */
  roots(): string[] {
    return albumFolders().map((f) => f.uri.fsPath);
  }

  /** The album filter of the index service (same roots, settings and formats): the gallery's path checks ask it. */
  filter(): AlbumFilter {
    this.albumFilter ??= new AlbumFilter(this.roots(), { include: this.settings.include, exclude: this.settings.exclude }, this.extensions);
    return this.albumFilter;
  }

  /** Settings of the filter changed (glimpse.include/exclude, files.exclude, search.exclude): the index follows without a restart. */
  async applyFilter(): Promise<void> {
    this.settings = readSettings();
    this.albumFilter = undefined;
    if (this.ready) await this.request('setFilter', { include: this.settings.include, exclude: this.settings.exclude });
  }

  /**
   * The face store: one per machine (global storage), shared by every window, workspace and album,
   * so a second window, a multi-root workspace holding the album, or a sub-folder opened alone
   * reuses every face already computed.
   */
  private storeDir(): string {
    return path.join(this.context.globalStorageUri.fsPath, 'index');
  }

  /** Thumbnails and previews live here (keyed by content, shared too); the webview may load from it. */
  thumbsDir(): string {
    return path.join(this.context.globalStorageUri.fsPath, 'thumbs');
  }

  /** Where older versions kept a cache per workspace (imported into the store, then removed). */
  private legacyDirs(): string[] {
    const bases = [this.context.storageUri, this.context.globalStorageUri].filter((u): u is vscode.Uri => !!u).map((u) => u.fsPath);
    const dirs = bases.flatMap((b) => ['mobilefacenet', 'dlib'].map((m) => path.join(b, `index-${m}`)));
    if (this.context.storageUri) dirs.push(path.join(this.context.storageUri.fsPath, 'thumbs'));
    return dirs;
  }

  /** Starts the service (idempotent). Indexing begins only when `autoStart`. */
  start(autoStart: boolean): Promise<void> {
    if (this.ready) return this.ready;
    this.settings = readSettings();
    this.albumFilter = undefined;
    const client = new IndexServiceClient({
      workerPath: path.join(this.context.extensionPath, 'dist', 'index-worker.js'),
      onEvent: (e) => this.onEvent(e),
      onExit: (code, signal, stderr) => this.onCrash(code, signal, stderr),
    });
    this.client = client;
    client.start();
    const cfg = this.settings;
    this.ready = client
      .request('init', {
        roots: albumFolders().map((f) => ({ path: f.uri.fsPath, name: f.name })),
        cacheDir: this.storeDir(),
        thumbsDir: this.thumbsDir(),
        legacy: this.legacyDirs(),
        index: { embedder: cfg.model, maxBytes: cfg.maxFileSizeMB * 1024 * 1024, exclude: cfg.exclude, include: cfg.include },
        autoStart,
      })
      .then(({ extensions, ...p }) => {
        this.extensions = extensions;
        this.albumFilter = undefined;
        this.onProgress(p);
      });
    this.ready.catch((e: Error) => {
      this.log.error(`The index service did not start: ${e.message}`);
      if (this.client === client) this.onProgress({ ...this.last, state: 'error', error: `The face index did not start: ${e.message}` });
    });
    this.watch();
    this.updateStatus();
    this.statusItem.show();
    return this.ready;
  }

  get running(): boolean {
    return !!this.ready;
  }

  async request<K extends RequestName>(type: K, params: ServiceRequests[K][0]): Promise<ServiceRequests[K][1]> {
    if (!this.ready) void this.start(false);
    await this.ready;
    return this.client!.request(type, params);
  }

  /** File watchers for the current workspace folders (made again on each start: folders may have changed). */
  private watch(): void {
    for (const w of this.watchers) w.dispose();
    this.watchers = albumFolders().map((folder) => {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, IMAGE_GLOB));
      const touch = (uri: vscode.Uri) => this.queuePath(uri.fsPath);
      w.onDidCreate(touch);
      w.onDidChange(touch);
      w.onDidDelete(touch);
      return w;
    });
  }

  /**
   * VS Code's file watcher does not follow symbolic links inside a watched folder (it reports
   * nothing for changes made through or behind them), so the places the scan's links lead to
   * outside the roots are watched on their own, and each event is named by the link's path.
   */
  private watchLinks(links: LinkedPlace[]): void {
    for (const w of this.linkWatchers) w.dispose();
    this.linkWatchers = [];
    const folders = new Map<string, string[]>();
    const files = new Map<string, Map<string, string[]>>();
    for (const l of links) {
      if (l.folder) folders.set(l.target, [...(folders.get(l.target) ?? []), l.path]);
      else {
        const dir = files.get(path.dirname(l.target)) ?? new Map<string, string[]>();
        dir.set(l.target, [...(dir.get(l.target) ?? []), l.path]);
        files.set(path.dirname(l.target), dir);
      }
    }
    const watch = (base: string, glob: string, names: (fsPath: string) => string[]) => {
      if (this.linkWatchers.length >= MAX_LINK_WATCHERS) return false;
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(base), glob));
      const touch = (uri: vscode.Uri) => names(uri.fsPath).forEach((p) => this.queuePath(p));
      w.onDidCreate(touch);
      w.onDidChange(touch);
      w.onDidDelete(touch);
      this.linkWatchers.push(w);
      return true;
    };
    let unwatched = 0;
    for (const [target, paths] of folders) {
      if (!watch(target, IMAGE_GLOB, (f) => paths.map((p) => path.join(p, path.relative(target, f))))) unwatched++;
    }
    for (const [dir, targets] of files) {
      if (!watch(dir, '*', (f) => targets.get(f) ?? [])) unwatched += targets.size;
    }
    if (unwatched) this.log.info(`${unwatched} symbolic links lead out of the album to more places than Glimpse watches (${MAX_LINK_WATCHERS}); changes there are picked up at the next scan.`);
  }

  /** Changed paths are batched for a second, so a copied folder of photos is one update. */
  private queuePath(p: string): void {
    this.pendingPaths.add(p);
    clearTimeout(this.pathsTimer);
    this.pathsTimer = setTimeout(() => {
      const paths = [...this.pendingPaths];
      this.pendingPaths.clear();
      if (this.client) this.client.request('updatePaths', { paths }).catch((e: Error) => this.log.warn(`update: ${e.message}`));
    }, 1000);
  }

  private onEvent(e: ServiceEvent): void {
    switch (e.event) {
      case 'progress':
        this.onProgress(e.progress);
        break;
      case 'failed': {
        // An unchanged bad file is reported on every scan; list it once per session.
        const id = `${e.key}\0${e.message}`;
        if (this.reportedFailures.has(id)) break;
        this.reportedFailures.add(id);
        this.log.warn(`${e.key}: ${e.message}`);
        break;
      }
      case 'unreadable':
        this.log.warn(`${e.path}: ${e.message}`);
        break;
      case 'links':
        this.watchLinks(e.links);
        break;
      case 'note':
        this.log.info(e.message);
        break;
      case 'changed':
        this.changed.fire();
        break;
    }
  }

  private onProgress(p: ServiceProgress): void {
    const wasIndexing = this.last.state === 'indexing';
    this.last = p;
    this.reportError(p);
    if (p.state === 'indexing' && !this.loopDelay) {
      this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
      this.loopDelay.enable();
    }
    if (p.state !== 'indexing' && wasIndexing && this.loopDelay) {
      this.loopDelay.disable();
      this.lastLoop = { max: this.loopDelay.max / 1e6, p99: this.loopDelay.percentile(99) / 1e6 };
      this.loopDelay = undefined;
      this.log.info(
        `Index ${p.state}: ${p.photos.toLocaleString()} photos, ${p.faces.toLocaleString()} faces (${p.computed} computed, ${p.reused} from the cache, ${p.failed} failed); ` +
          `longest extension-host event-loop block while indexing: ${this.lastLoop.max.toFixed(1)} ms`,
      );
    }
    this.updateStatus();
    this.progressed.fire(p);
  }

  /** A run that stopped on an error (a cache that cannot be written...): the log, and one notification until a run completes. */
  private reportError(p: ServiceProgress): void {
    if (p.state !== 'error' || !p.error) {
      if (p.state === 'idle' || p.state === 'waiting') this.shownError = undefined;
      return;
    }
    if (p.error === this.shownError) return;
    this.shownError = p.error;
    this.log.error(p.error);
    void vscode.window.showErrorMessage(`Glimpse: ${p.error}`, 'Show Log').then((a) => a && this.log.show());
  }

  private updateStatus(): void {
    const p = this.last;
    this.statusItem.backgroundColor = p.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    const n = (x: number) => x.toLocaleString('en-US');
    let text: string;
    let tip: string;
    switch (p.state) {
      case 'indexing':
        text = `$(sync~spin) Glimpse: ${n(p.done)} / ${n(p.total)} photos`;
        tip = `Indexing faces: ${n(p.computed)} computed, ${n(p.reused)} from the cache, ${n(p.failed)} failed. Click to pause.`;
        break;
      case 'paused':
        text = `$(debug-pause) Glimpse: paused (${n(p.photos)} photos)`;
        tip = 'Face indexing is paused. Click to resume.';
        break;
      case 'waiting':
        text = `$(eye) Glimpse: ${n(p.photos)} photos`;
        tip = 'Another window is indexing this folder; this one shows its results.';
        break;
      case 'error':
        text = `$(error) Glimpse: indexing stopped (${n(p.photos)} photos)`;
        tip = `${p.error ?? 'Indexing stopped on an error'}. See the log.`;
        break;
      case 'starting':
        text = '$(sync~spin) Glimpse';
        tip = 'Starting the face index…';
        break;
      default:
        text = `$(person) Glimpse: ${n(p.photos)} photos`;
        tip = `${n(p.photos)} photos, ${n(p.faces)} faces indexed${p.failed ? `, ${n(p.failed)} could not be read (see the log)` : ''}.`;
    }
    this.statusItem.text = text;
    this.statusItem.tooltip = tip;
  }

  private onCrash(code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    this.ready = undefined;
    this.client = undefined;
    this.restarts++;
    this.log.error(`The index service stopped unexpectedly (${signal ?? `exit code ${code}`}).${stderr ? `\n${stderr}` : ''}`);
    this.last = { ...this.last, state: 'error' };
    this.updateStatus();
    if (this.restarts <= 3) {
      // Resume where it stopped: finished photos are in the cache.
      const delay = 1000 * 2 ** (this.restarts - 1);
      setTimeout(() => void this.start(this.settings.indexOnStartup && vscode.workspace.isTrusted), delay);
    } else {
      void vscode.window.showErrorMessage('Glimpse: the face index keeps stopping; see the log.', 'Show Log').then((a) => a && this.log.show());
    }
  }

  async pause(): Promise<void> {
    await this.request('pause', {});
  }

  async resume(): Promise<void> {
    if (!this.ready) {
      await this.start(true);
      return;
    }
    await this.request('resume', {});
  }

  async rebuild(): Promise<void> {
    this.reportedFailures.clear();
    if (!this.ready) await this.start(false);
    await this.request('rebuild', {});
  }

  /** Restarts with new settings (model, limits, globs). */
  async restart(): Promise<void> {
    const autoStart = this.last.state !== 'paused';
    await this.stop();
    await this.start(autoStart && vscode.workspace.isTrusted);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.ready = undefined;
    await client?.stop();
  }

  diagnostics(): Diagnostics {
    const live = this.loopDelay ? { max: this.loopDelay.max / 1e6, p99: this.loopDelay.percentile(99) / 1e6 } : this.lastLoop;
    return { maxEventLoopBlockMs: live.max, p99EventLoopBlockMs: live.p99, activationMs: this.activationMs, workerPid: this.client?.pid, restarts: this.restarts, cacheDir: this.storeDir() };
  }

  dispose(): void {
    clearTimeout(this.pathsTimer);
    this.loopDelay?.disable();
    void this.stop();
    for (const d of [...this.disposables, ...this.watchers, ...this.linkWatchers]) d.dispose();
    this.disposables = [];
    this.watchers = [];
    this.linkWatchers = [];
  }
}

/** The album: the workspace folders on disk (virtual file systems are not supported). */
function albumFolders(): vscode.WorkspaceFolder[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
}
