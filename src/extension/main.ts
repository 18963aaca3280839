/**
 * Glimpse's VS Code glue: commands, the status bar, the gallery panel and its serializer. The
 * face engine runs in the index service (a child process); activation loads no model.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { IMAGE_EXTENSIONS, isImagePath } from '../engine/image-types';
import { GalleryPanel, VIEW_TYPE, type QueryTarget } from './gallery';
import { IndexService, type DiagnosticsReport } from './indexService';
import { readSettings } from './settings';

let service: IndexService | undefined;

/** The image a command applies to: the Explorer item, else the image open in the editor, else one the user picks. */
async function resolveTarget(arg: unknown): Promise<QueryTarget | undefined> {
  if (arg instanceof vscode.Uri) {
    if (arg.scheme !== 'file') {
      void vscode.window.showWarningMessage('Glimpse works on photos on this machine\'s disk.');
      return undefined;
    }
    if (!isImagePath(arg.fsPath)) {
      void vscode.window.showWarningMessage(`Glimpse: ${path.basename(arg.fsPath)} is not an image.`);
      return undefined;
    }
    return { kind: 'file', file: arg.fsPath };
  }
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.uri.scheme === 'file' && isImagePath(input.uri.fsPath)) return { kind: 'file', file: input.uri.fsPath };
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: 'Find Similar Faces',
    title: 'Glimpse: choose a photo of the person to look for',
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    filters: { Images: IMAGE_EXTENSIONS },
  });
  return picked?.[0] ? { kind: 'file', file: picked[0].fsPath } : undefined;
}

let progressShown = false;

/** While the user waits on an index still being built: a cancellable notification (cancel pauses indexing). */
function showIndexingProgress(s: IndexService): void {
  if (progressShown || s.last.state !== 'indexing') return;
  progressShown = true;
  void vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Glimpse: indexing the album; results grow as photos are done', cancellable: true },
    (progress, token) =>
      new Promise<void>((resolve) => {
        let reported = 0;
        const update = () => {
          const p = s.last;
          if (p.state !== 'indexing') {
            sub.dispose();
            resolve();
            return;
          }
          const pct = p.total ? (100 * p.done) / p.total : 0;
          progress.report({ message: `${p.done.toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')} photos`, increment: pct - reported });
          reported = pct;
        };
        const sub = s.onDidProgress(update);
        token.onCancellationRequested(() => {
          sub.dispose();
          void s.pause();
          resolve();
        });
        update();
      }),
  ).then(() => (progressShown = false));
}

/** What activate() returns (the extension's `exports`): for tests and the benchmark. */
export interface GlimpseApi {
  service: IndexService;
  /** The open gallery panel, if any. */
  gallery(): GalleryPanel | undefined;
}

export function activate(context: vscode.ExtensionContext): GlimpseApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Glimpse', { log: true });
  const s = new IndexService(context, log);
  service = s;
  context.subscriptions.push(log, s);

  context.subscriptions.push(
    vscode.commands.registerCommand('glimpse.findSimilarFaces', async (arg?: unknown) => {
      const target = await resolveTarget(arg);
      if (!target) return;
      if (!s.running) void s.start(readSettings().indexOnStartup && vscode.workspace.isTrusted);
      GalleryPanel.createOrShow(context, s, target);
      showIndexingProgress(s);
    }),
    vscode.commands.registerCommand('glimpse.rebuildIndex', async () => {
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage('Glimpse indexes photos only in a trusted workspace.');
        return;
      }
      await s.rebuild();
      void vscode.window.showInformationMessage('Glimpse: rebuilding the face index.');
    }),
    vscode.commands.registerCommand('glimpse.toggleIndexing', async () => {
      if (s.last.state === 'paused' || !s.running) {
        if (!vscode.workspace.isTrusted) {
          void vscode.window.showWarningMessage('Glimpse indexes photos only in a trusted workspace.');
          return;
        }
        await s.resume();
      } else await s.pause();
    }),
    vscode.commands.registerCommand('glimpse.showLog', () => log.show()),
    vscode.commands.registerCommand('glimpse.indexMenu', async () => {
      const paused = s.last.state === 'paused' || !s.running;
      const pick = await vscode.window.showQuickPick(
        [
          { label: paused ? '$(debug-start) Resume indexing' : '$(debug-pause) Pause indexing', id: 'glimpse.toggleIndexing' },
          { label: '$(output) Show index log', id: 'glimpse.showLog' },
          { label: '$(refresh) Rebuild face index', id: 'glimpse.rebuildIndex' },
          { label: '$(search) Find similar faces…', id: 'glimpse.findSimilarFaces' },
        ],
        { title: 'Glimpse' },
      );
      if (pick) await vscode.commands.executeCommand(pick.id);
    }),
    // For tests and the benchmark: the measured figures of this window.
    vscode.commands.registerCommand('glimpse._diagnostics', (): DiagnosticsReport => ({ ...s.diagnostics(), progress: s.last })),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        GalleryPanel.revive(panel, context, s);
      },
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('glimpse.model') || e.affectsConfiguration('glimpse.maxFileSizeMB')) {
        if (s.running) void s.restart();
      } else if (['glimpse.include', 'glimpse.exclude', 'files.exclude', 'search.exclude'].some((k) => e.affectsConfiguration(k))) {
        // The album filter changes in place: photos leave or join without a restart or a recompute.
        s.applyFilter().catch((err: Error) => log.warn(`filter: ${err.message}`));
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      if (s.running) void s.restart();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (readSettings().indexOnStartup) void s.resume();
    }),
  );

  // Background indexing starts after activation returns: forking the service is not activation's cost.
  if (readSettings().indexOnStartup && vscode.workspace.isTrusted && s.roots().length) {
    setTimeout(() => void s.start(true), 0);
  }
  s.activationMs = performance.now() - t0;
  log.info(`Activated in ${s.activationMs.toFixed(1)} ms`);
  return { service: s, gallery: () => GalleryPanel.current };
}

export function deactivate(): Promise<void> | undefined {
  return service?.stop();
}
