/**
 * Messages between the extension host and the index service, a child process that owns the
 * models, the face cache, the search matrix, thumbnails and renderings, so that the extension
 * host stays light and responsive (and a crash in native code cannot take it down).
 * Sent over Node's IPC channel with 'advanced' serialization: typed arrays arrive as such.
 */
import type { Box } from '../../shared/protocol';
import type { FilterOptions } from '../album-filter';
import type { LinkedPlace } from '../album-walk';
import type { AlbumRoot, IndexOptions } from './album';

export interface ServiceConfig {
  roots: AlbumRoot[];
  /**
   * Folder of the face store, shared by every window, workspace and album of this machine (the
   * extension's global storage): faces keyed by content and model, path records, writer locks
   * (locks/, one per album).
   */
  cacheDir: string;
  /** Folder for thumbnails and previews (keyed by content: shared too). */
  thumbsDir: string;
  /** Folders of older per-workspace caches (storageUri/index-<model>, storageUri/thumbs): their faces are copied into the store, then they are removed. */
  legacy?: string[];
  index: IndexOptions;
  /** Start indexing at once (glimpse.indexOnStartup). */
  autoStart: boolean;
}

export type ServiceState = 'starting' | 'indexing' | 'paused' | 'idle' | 'waiting' | 'error';

export interface ServiceProgress {
  state: ServiceState;
  done: number;
  total: number;
  computed: number;
  reused: number;
  failed: number;
  /** Photos and faces in the index now. */
  photos: number;
  faces: number;
  /** Why indexing stopped (state 'error'): one line naming the cause and the folder. */
  error?: string;
}

export interface QueryFaceInfo {
  box: Box;
  score: number;
  embedding: Float32Array;
}

export interface QueryResult {
  width: number;
  height: number;
  faces: QueryFaceInfo[];
  /** The photo's key when it is an album photo. */
  key?: string;
}

export interface SearchItem {
  key: string;
  root: number;
  rel: string;
  width: number;
  height: number;
  mtimeMs: number;
  score: number;
  face: number;
  faces: Box[];
}

/** Request name -> [parameters, result]. */
export interface ServiceRequests {
  /** Starts the service; answers with its progress and the photo extensions its sharp decodes (the album filter's formats). */
  init: [ServiceConfig, ServiceProgress & { extensions: string[] }];
  /** Replaces the album filter's options (settings changed): photos it leaves out leave at once, a rescan brings in the ones it lets in. */
  setFilter: [FilterOptions, void];
  update: [Record<string, never>, void];
  updatePaths: [{ paths: string[] }, void];
  pause: [Record<string, never>, void];
  resume: [Record<string, never>, void];
  rebuild: [Record<string, never>, void];
  query: [{ file?: string; bytes?: Uint8Array }, QueryResult];
  search: [{ embedding: Float32Array; floor: number }, { items: SearchItem[]; progress: ServiceProgress }];
  /** Thumbnail (or preview) JPEG files of album photos, made once per content. */
  thumbs: [{ keys: string[]; size: number }, { key: string; file?: string }[]];
  /** A rendition of any image file (e.g. a query from outside the album), made once per content. */
  rendition: [{ file?: string; bytes?: Uint8Array; size: number }, { file: string }];
  /** The photo with boxes drawn on it, written to `out`. */
  render: [{ key: string; boxes: Box[]; emphasis: number; out: string }, void];
  stats: [Record<string, never>, ServiceProgress];
}

export type RequestName = keyof ServiceRequests;

export interface RequestMessage<K extends RequestName = RequestName> {
  id: number;
  type: K;
  params: ServiceRequests[K][0];
}

export type ReplyMessage = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type ServiceEvent =
  | { event: 'progress'; progress: ServiceProgress }
  | { event: 'failed'; key: string; rel: string; kind: string; message: string }
  /** A folder or a symbolic link that cannot be read: its photos are left out. */
  | { event: 'unreadable'; path: string; message: string }
  /** Symbolic links the last scan followed out of every root: the roots' file watchers do not see changes there. */
  | { event: 'links'; links: LinkedPlace[] }
  | { event: 'note'; message: string }
  /** The index changed (photos added, changed or removed): open searches may refresh. */
  | { event: 'changed' };
