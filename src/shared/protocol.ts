/**
 * The one message protocol between the extension host and the gallery webview; both sides import
 * this file, so a renamed field fails to compile on both. Commands flow webview -> extension,
 * notifications extension -> webview (GitLens's shape). The extension treats every command as
 * untrusted input: `parseCommand` checks it at run time against the same definitions, and the
 * webview names photos only by the ids the extension handed out, never by path.
 */

export type Box = [number, number, number, number];

/** A face of the query photo the user can pick. */
export interface QueryFace {
  box: Box;
  score: number;
}

export interface QueryInfo {
  /** Display name (file name, or "dropped image"). */
  name: string;
  /** webview URI of the query photo (EXIF-rotated rendering is the browser's job: it honours orientation). */
  src: string;
  width: number;
  height: number;
  faces: QueryFace[];
  /** Index into faces of the face searched for. */
  selected: number;
}

/** One matching photo. Coordinates are in pixels of the EXIF-rotated photo. */
export interface ResultItem {
  id: number;
  name: string;
  /** Path relative to its album root, for display. */
  path: string;
  /** webview URI of the thumbnail, once made. */
  thumb?: string;
  width: number;
  height: number;
  /** Similarity of the best-matching face. */
  score: number;
  /** The best-matching face. */
  box: Box;
  /** Every face found in the photo. */
  faces: Box[];
  /** Modification time, ms since the epoch. */
  mtime: number;
}

export type SortOrder = 'similarity' | 'date' | 'name';

export interface IndexProgress {
  state: 'starting' | 'indexing' | 'paused' | 'idle' | 'error';
  done: number;
  total: number;
  failed: number;
}

export interface GalleryState {
  threshold: number;
  sort: SortOrder;
  /** Thumbnail width the grid aims for, CSS px (the webview's size slider); absent: its default. */
  size?: number;
}

// ---- extension -> webview --------------------------------------------------------------------

export interface Notifications {
  /** A new search: the query photo and its faces. Clears the results. */
  query: { search: number; query: QueryInfo; state: GalleryState };
  /** The query photo has no face (or could not be read). */
  queryFailed: { search: number; name: string; src?: string; message: string };
  /** Candidates for the current search (every photo above the floor similarity), best first; replaces the list. */
  results: { search: number; items: ResultItem[]; complete: boolean; floor: number };
  /** Thumbnails made since the last message. */
  thumbs: { items: { id: number; thumb: string }[] };
  /** The large image for the preview of a result. */
  preview: { id: number; src: string };
  progress: IndexProgress;
  /** A short message for the status line of the gallery. */
  notice: { level: 'info' | 'error'; message: string };
}

// ---- webview -> extension --------------------------------------------------------------------

export interface Commands {
  ready: Record<string, never>;
  /** Search again for another face of the query photo; the extension answers with a new `query` (new search id) and its `results`. */
  selectFace: { search: number; face: number };
  open: { id: number };
  reveal: { id: number };
  save: { id: number; highlights: boolean };
  saveAll: { ids: number[]; highlights: boolean };
  thumbs: { ids: number[] };
  preview: { id: number };
  /** An image dropped from the Explorer: its URI (must be inside the album). */
  dropUri: { uri: string };
  /** An image dropped from the desktop: its bytes. */
  dropFile: { name: string; bytes: Uint8Array };
  state: GalleryState;
}

export type NotificationName = keyof Notifications;
export type CommandName = keyof Commands;

export interface Message<K extends string, P> {
  type: K;
  params: P;
}

export type NotificationMessage = { [K in NotificationName]: Message<K, Notifications[K]> }[NotificationName];
export type CommandMessage = { [K in CommandName]: Message<K, Commands[K]> }[CommandName];

// ---- run-time validation (extension side) ---------------------------------------------------

/** Upper bounds that keep a misbehaving webview from making the host do unbounded work. */
export const LIMITS = { ids: 10_000, dropBytes: 64 * 1024 * 1024, uri: 4096, name: 512, thumbSize: { min: 64, max: 1024 } };

type Check<T> = (v: unknown) => v is T;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isStr = (max: number) => (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length <= LIMITS.ids && v.every(isId);

function shape<T>(fields: { [K in keyof T]-?: (v: unknown) => boolean }): Check<T> {
  const keys = Object.keys(fields);
  return (v: unknown): v is T =>
    isObj(v) && Object.keys(v).every((k) => keys.includes(k)) && keys.every((k) => (fields as Record<string, (v: unknown) => boolean>)[k](v[k]));
}

const CHECKS: { [K in CommandName]: Check<Commands[K]> } = {
  ready: shape<Commands['ready']>({}),
  selectFace: shape<Commands['selectFace']>({ search: isId, face: isId }),
  open: shape<Commands['open']>({ id: isId }),
  reveal: shape<Commands['reveal']>({ id: isId }),
  save: shape<Commands['save']>({ id: isId, highlights: isBool }),
  saveAll: shape<Commands['saveAll']>({ ids: isIds, highlights: isBool }),
  thumbs: shape<Commands['thumbs']>({ ids: isIds }),
  preview: shape<Commands['preview']>({ id: isId }),
  dropUri: shape<Commands['dropUri']>({ uri: isStr(LIMITS.uri) }),
  dropFile: shape<Commands['dropFile']>({
    name: isStr(LIMITS.name),
    bytes: (v) => v instanceof Uint8Array && v.length > 0 && v.length <= LIMITS.dropBytes,
  }),
  state: shape<Commands['state']>({
    threshold: (v) => typeof v === 'number' && Number.isFinite(v) && v >= -1 && v <= 1,
    sort: (v) => v === 'similarity' || v === 'date' || v === 'name',
    size: (v) => v === undefined || (Number.isSafeInteger(v) && (v as number) >= LIMITS.thumbSize.min && (v as number) <= LIMITS.thumbSize.max),
  }),
};

/** The command a message holds, or a reason it was refused. */
export function parseCommand(raw: unknown): { ok: true; message: CommandMessage } | { ok: false; reason: string } {
  if (!isObj(raw) || typeof raw.type !== 'string') return { ok: false, reason: 'not a message' };
  const extra = Object.keys(raw).find((k) => k !== 'type' && k !== 'params');
  if (extra !== undefined) return { ok: false, reason: `unexpected field ${JSON.stringify(extra).slice(0, 60)} in a message` };
  if (!Object.prototype.hasOwnProperty.call(CHECKS, raw.type)) return { ok: false, reason: `unknown command ${JSON.stringify(raw.type).slice(0, 60)}` };
  const type = raw.type as CommandName;
  if (!CHECKS[type](raw.params)) return { ok: false, reason: `malformed ${type} parameters` };
  return { ok: true, message: { type, params: raw.params } as CommandMessage };
}
