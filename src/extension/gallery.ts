/**
 * The gallery panel: one panel for the whole window (createOrShow reveals it rather than opening a
 * second), revived after a reload by a WebviewPanelSerializer, every listener in one disposables
 * list. It speaks src/shared/protocol.ts; every message from the webview is validated by
 * parseCommand, and the webview names photos only by ids handed out here, so it can never make
 * the extension read or write a path of its choosing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { QueryResult, SearchItem, ServiceProgress } from '../engine/index/service-protocol';
import { defaultThreshold } from '../engine/thresholds';
import {
  parseCommand,
  type Box,
  type CommandMessage,
  type GalleryState,
  type NotificationName,
  type Notifications,
  type ResultItem,
} from '../shared/protocol';
import { galleryHtml } from '../webview/html';
import type { IndexService } from './indexService';
import { isAlbumImage, uniqueName } from './paths';
import { readSettings } from './settings';

export const VIEW_TYPE = 'glimpse.gallery';

/** What a search starts from. */
export type QueryTarget = { kind: 'file'; file: string } | { kind: 'bytes'; name: string; bytes: Uint8Array };

/** Kept by VS Code with the panel, to restore the last search after a reload. */
interface PersistedState {
  file?: string;
  face?: number;
}

const THUMB_SIZE = 384;
const PREVIEW_SIZE = 1600;
/** Candidates below this never reach the webview; the slider cannot go lower. */
const FLOOR_BELOW_THRESHOLD = 0.2;

export class GalleryPanel implements vscode.Disposable {
  static current?: GalleryPanel;

  private disposables: vscode.Disposable[] = [];
  private ready = false;
  private outbox: unknown[] = [];
  private searchId = 0;
  private target?: QueryTarget;
  private query?: QueryResult;
  private querySrc?: string;
  private selected = 0;
  private items = new Map<number, SearchItem>();
  private idOf = new Map<string, number>();
  private nextId = 1;
  private refreshTimer?: NodeJS.Timeout;
  private state: GalleryState;
  /** Where the user last saved: the next save dialog opens there. */
  private saveDir?: vscode.Uri;
  /** Why messages from the webview were refused, latest last (at most 100; tests read it). */
  readonly refusals: string[] = [];

  static createOrShow(context: vscode.ExtensionContext, service: IndexService, target: QueryTarget): GalleryPanel {
    if (GalleryPanel.current) {
      GalleryPanel.current.panel.reveal(vscode.ViewColumn.Active);
      void GalleryPanel.current.search(target);
      return GalleryPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Similar Faces', vscode.ViewColumn.Active, GalleryPanel.options(context, service));
    const g = new GalleryPanel(panel, context, service);
    void g.search(target);
    return g;
  }

  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, service: IndexService): GalleryPanel {
    panel.webview.options = GalleryPanel.options(context, service);
    const g = new GalleryPanel(panel, context, service);
    const s = context.workspaceState.get<PersistedState>('glimpse.lastSearch') ?? {};
    // Only a photo of the album is searched again on its own; anything else waits for the user.
    if (typeof s.file === 'string' && isAlbumImage(s.file, service.filter()) && existsSync(s.file)) {
      void g.search({ kind: 'file', file: s.file }, typeof s.face === 'number' ? s.face : undefined);
    }
    return g;
  }

  private static options(context: vscode.ExtensionContext, service: IndexService): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: true,
      // The bundle and the thumbnail cache; photos themselves are shown through renditions there.
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media'), vscode.Uri.file(service.thumbsDir())],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly service: IndexService,
  ) {
    GalleryPanel.current = this;
    const settings = readSettings();
    const stored = context.workspaceState.get<GalleryState>('glimpse.gallery');
    this.state = { threshold: settings.threshold, sort: stored?.sort ?? 'similarity', size: stored?.size };
    if (stored && stored.threshold !== undefined && Math.abs(stored.threshold - settings.threshold) < 0.5) this.state.threshold = stored.threshold;
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'icon.svg');
    panel.webview.html = this.html();
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      service.onDidChangeIndex(() => this.scheduleRefresh()),
      service.onDidProgress((p) => this.post('progress', progressOf(p))),
    );
  }

  private html(): string {
    const w = this.panel.webview;
    const dist = vscode.Uri.joinPath(this.context.extensionUri, 'dist');
    return galleryHtml({
      cspSource: w.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: w.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      styleUri: w.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.css')).toString(),
    });
  }

  private post<K extends NotificationName>(type: K, params: Notifications[K]): void {
    const msg = { type, params };
    if (!this.ready) {
      // Keep only the latest progress while the page loads.
      if (type === 'progress') this.outbox = this.outbox.filter((m) => (m as { type: string }).type !== 'progress');
      this.outbox.push(msg);
      return;
    }
    void this.panel.webview.postMessage(msg);
  }

  private notice(level: 'info' | 'error', message: string): void {
    this.post('notice', { level, message });
  }

  private uri(file: string): string {
    return this.panel.webview.asWebviewUri(vscode.Uri.file(file)).toString();
  }

  /** Starts a search from a photo: its faces first, then the matches. */
  async search(target: QueryTarget, face?: number): Promise<void> {
    const id = ++this.searchId;
    this.target = target;
    this.query = undefined;
    this.items.clear();
    this.idOf.clear();
    const name = target.kind === 'file' ? path.basename(target.file) : target.name;
    this.panel.title = `Similar Faces: ${name}`;
    this.post('progress', progressOf(this.service.last));
    try {
      const [q, rendition] = await Promise.all([
        this.service.request('query', target.kind === 'file' ? { file: target.file } : { bytes: target.bytes }),
        this.rendition(target),
      ]);
      if (id !== this.searchId) return;
      this.query = q;
      this.querySrc = rendition;
      if (!q.faces.length) {
        this.post('queryFailed', { search: id, name, src: rendition, message: 'No face was found in this photo.' });
        return;
      }
      const largest = q.faces.reduce((best, f, i) => (f.box[2] * f.box[3] > q.faces[best].box[2] * q.faces[best].box[3] ? i : best), 0);
      this.selected = face !== undefined && face >= 0 && face < q.faces.length ? face : largest;
      this.persist();
      this.postQuery(id, name);
      await this.runSearch(id);
    } catch (e) {
      if (id !== this.searchId) return;
      this.post('queryFailed', { search: id, name, message: `This photo could not be read: ${(e as Error).message}` });
    }
  }

  private postQuery(id: number, name: string): void {
    const q = this.query!;
    this.post('query', {
      search: id,
      query: { name, src: this.querySrc ?? '', width: q.width, height: q.height, faces: q.faces.map((f) => ({ box: f.box, score: f.score })), selected: this.selected },
      state: this.state,
    });
  }

  private async rendition(target: QueryTarget): Promise<string> {
    if (target.kind === 'file') {
      const inAlbum = isAlbumImage(target.file, this.service.filter());
      if (inAlbum) {
        const [t] = await this.service.request('thumbs', { keys: [target.file], size: PREVIEW_SIZE });
        if (t?.file) return this.uri(t.file);
      }
      return this.uri((await this.service.request('rendition', { file: target.file, size: PREVIEW_SIZE })).file);
    }
    return this.uri((await this.service.request('rendition', { bytes: target.bytes, size: PREVIEW_SIZE })).file);
  }

  private persist(): void {
    const s: PersistedState = this.target?.kind === 'file' ? { file: this.target.file, face: this.selected } : {};
    // The webview keeps its own view state; this is what the extension needs to search again after a reload.
    void this.context.workspaceState.update('glimpse.lastSearch', s);
  }

  private async runSearch(id: number): Promise<void> {
    const q = this.query;
    if (!q || !q.faces.length) return;
    const floor = Math.max(-1, Math.min(this.state.threshold, defaultThreshold(readSettings().model)) - FLOOR_BELOW_THRESHOLD);
    const { items, progress } = await this.service.request('search', { embedding: q.faces[this.selected].embedding, floor });
    if (id !== this.searchId) return;
    const out: ResultItem[] = items.map((it) => {
      let rid = this.idOf.get(it.key);
      if (rid === undefined) {
        rid = this.nextId++;
        this.idOf.set(it.key, rid);
      }
      this.items.set(rid, it);
      return {
        id: rid,
        name: path.basename(it.key),
        path: it.rel,
        width: it.width,
        height: it.height,
        score: it.score,
        box: it.faces[it.face] as Box,
        faces: it.faces,
        mtime: it.mtimeMs,
      };
    });
    this.post('results', { search: id, items: out, complete: progress.state !== 'indexing' && progress.state !== 'starting', floor });
  }

  /** New photos were indexed: refresh the open search, at most every 2 s. */
  private scheduleRefresh(): void {
    if (this.refreshTimer || !this.query) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.runSearch(this.searchId).catch(() => undefined);
    }, 2000);
  }

  /** A message from the webview (untrusted); resolves once it is handled or refused. */
  async receive(raw: unknown): Promise<void> {
    const parsed = parseCommand(raw);
    if (!parsed.ok) {
      this.refuse(parsed.reason);
      return;
    }
    try {
      await this.handle(parsed.message);
    } catch (e) {
      if (e instanceof RefusedError) this.refuse(`${parsed.message.type}: ${e.message}`);
      else this.service.log.error(`Gallery ${parsed.message.type}: ${(e as Error).message}`);
      this.notice('error', (e as Error).message);
    }
  }

  private refuse(reason: string): void {
    this.service.log.warn(`Refused a message from the gallery: ${reason}`);
    this.refusals.push(reason);
    if (this.refusals.length > 100) this.refusals.shift();
  }

  /** The current results: the ids the webview may name, and their photos. */
  results(): { id: number; file: string }[] {
    return [...this.items].map(([id, it]) => ({ id, file: it.key }));
  }

  /** An id the webview sends must be one of the current results. */
  private item(id: number): SearchItem {
    const it = this.items.get(id);
    if (!it) throw new RefusedError(`unknown result id ${id}`);
    if (!isAlbumImage(it.key, this.service.filter())) throw new RefusedError(`result ${id} is not in the album`);
    return it;
  }

  private async handle(m: CommandMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        for (const msg of this.outbox.splice(0)) void this.panel.webview.postMessage(msg);
        return;
      case 'state':
        this.state = { threshold: m.params.threshold, sort: m.params.sort, size: m.params.size };
        await this.context.workspaceState.update('glimpse.gallery', this.state);
        return;
      case 'selectFace': {
        if (m.params.search !== this.searchId || !this.query || m.params.face >= this.query.faces.length) return;
        this.selected = m.params.face;
        this.persist();
        const id = ++this.searchId;
        this.postQuery(id, this.target?.kind === 'file' ? path.basename(this.target.file) : (this.target?.name ?? ''));
        await this.runSearch(id);
        return;
      }
      case 'thumbs': {
        const wanted = m.params.ids.filter((i) => this.items.has(i));
        const made = await this.service.request('thumbs', { keys: wanted.map((i) => this.items.get(i)!.key), size: THUMB_SIZE });
        this.postThumbs(made);
        return;
      }
      case 'preview': {
        const it = this.item(m.params.id);
        const [t] = await this.service.request('thumbs', { keys: [it.key], size: PREVIEW_SIZE });
        if (t?.file) this.post('preview', { id: m.params.id, src: this.uri(t.file) });
        return;
      }
      case 'open':
        await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(this.item(m.params.id).key));
        return;
      case 'reveal':
        await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(this.item(m.params.id).key));
        return;
      case 'save':
        await this.save(this.item(m.params.id), m.params.highlights);
        return;
      case 'saveAll':
        await this.saveAll(m.params.ids.map((i) => this.item(i)), m.params.highlights);
        return;
      case 'dropUri': {
        let uri: vscode.Uri;
        try {
          uri = vscode.Uri.parse(m.params.uri, true);
        } catch {
          throw new RefusedError('a dropped item that is not a URI');
        }
        // The Explorer names a file with the window's URI: file:///path, or vscode-remote://<host>/path
        // when this extension host runs on another machine (Remote-SSH, WSL, code-server), where the
        // path is local. Either way a plain path: no host of its own, no "." or ".." segments.
        const local = uri.scheme === 'file' ? uri.authority === '' : uri.scheme === 'vscode-remote' && vscode.env.remoteName !== undefined;
        const plain = local && !uri.path.split('/').some((s) => s === '.' || s === '..');
        const file = uri.scheme === 'file' ? uri.fsPath : vscode.Uri.file(uri.path).fsPath;
        if (!plain || !isAlbumImage(file, this.service.filter())) {
          throw new RefusedError(`dropped ${uri.scheme === 'file' ? uri.fsPath : uri.toString()}: only photos of the album can be dropped from the Explorer (drop from your desktop for others)`);
        }
        await this.search({ kind: 'file', file });
        return;
      }
      case 'dropFile':
        await this.search({ kind: 'bytes', name: m.params.name, bytes: m.params.bytes });
        return;
    }
  }

  private postThumbs(made: { key: string; file?: string }[]): void {
    const items: { id: number; thumb: string }[] = [];
    for (const t of made) {
      const id = this.idOf.get(t.key);
      if (t.file && id !== undefined) items.push({ id, thumb: this.uri(t.file) });
    }
    if (items.length) this.post('thumbs', { items });
  }

  private defaultSaveDir(): vscode.Uri {
    return this.saveDir ?? vscode.Uri.file(path.join(homedir(), 'Pictures'));
  }

  private async save(it: SearchItem, highlights: boolean): Promise<void> {
    const base = path.basename(it.key);
    const name = highlights ? `${base.replace(/\.[^.]+$/, '')}-faces${/\.png$/i.test(base) ? '.png' : '.jpg'}` : base;
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(this.defaultSaveDir(), name),
      title: highlights ? 'Save the photo with the faces drawn on it' : 'Save a copy of the photo',
      filters: highlights ? { Images: ['jpg', 'jpeg', 'png', 'webp'] } : undefined,
      saveLabel: 'Save',
    });
    // Only a path the user picked in the dialog is ever written.
    if (!target) return;
    this.saveDir = vscode.Uri.joinPath(target, '..');
    await this.write(it, target, highlights);
    this.notice('info', `Saved ${path.basename(target.fsPath)}`);
  }

  private async write(it: SearchItem, target: vscode.Uri, highlights: boolean): Promise<void> {
    if (highlights) await this.service.request('render', { key: it.key, boxes: it.faces, emphasis: it.face, out: target.fsPath });
    else await vscode.workspace.fs.copy(vscode.Uri.file(it.key), target, { overwrite: true });
  }

  private async saveAll(items: SearchItem[], highlights: boolean): Promise<void> {
    if (!items.length) return;
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      defaultUri: this.defaultSaveDir(),
      openLabel: `Save ${items.length} photo${items.length === 1 ? '' : 's'} here`,
      title: 'Choose a folder for the matching photos',
    });
    const folder = picked?.[0];
    if (!folder) return;
    this.saveDir = folder;
    const taken = new Set((await vscode.workspace.fs.readDirectory(folder)).map(([n]) => n.toLowerCase()));
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Glimpse: saving photos', cancellable: true }, async (progress, token) => {
      let done = 0;
      for (const it of items) {
        if (token.isCancellationRequested) break;
        const base = path.basename(it.key);
        const wanted = highlights ? `${base.replace(/\.[^.]+$/, '')}-faces.jpg` : base;
        const name = uniqueName(wanted, (n) => taken.has(n.toLowerCase()));
        taken.add(name.toLowerCase());
        await this.write(it, vscode.Uri.joinPath(folder, name), highlights);
        done++;
        progress.report({ increment: 100 / items.length, message: `${done} / ${items.length}` });
      }
      this.notice('info', `Saved ${done} photo${done === 1 ? '' : 's'} to ${folder.fsPath}`);
    });
  }

  dispose(): void {
    if (GalleryPanel.current === this) GalleryPanel.current = undefined;
    clearTimeout(this.refreshTimer);
    this.panel.dispose();
    for (const d of this.disposables) d.dispose();
    this.disposables = [];
  }
}

class RefusedError extends Error {}

function progressOf(p: ServiceProgress): Notifications['progress'] {
  const state = p.state === 'waiting' ? 'idle' : p.state;
  return { state, done: p.done, total: p.total, failed: p.failed };
}
