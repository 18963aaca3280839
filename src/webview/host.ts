/**
 * The webview's link to the extension: typed commands out, and the state VS Code keeps for a
 * reload (getState/setState). The saved state is checked when read back: it may come from an
 * older version of the gallery.
 */
import type { CommandName, Commands, GalleryState, QueryInfo, ResultItem, SortOrder } from '../shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What a reload restores before the extension sends anything. */
export interface SavedState {
  v: 1;
  search?: number;
  query?: QueryInfo;
  failed?: { name: string; src?: string; message: string };
  items?: ResultItem[];
  floor?: number;
  complete?: boolean;
  view: Required<GalleryState>;
  /** Id of the result at the top of the view and how far it is scrolled past (px). */
  anchor?: { id: number; offset: number };
}

export const SIZES = { min: 120, max: 400, step: 20, default: 200 };
export const DEFAULT_VIEW: Required<GalleryState> = { threshold: 0.5, sort: 'similarity', size: SIZES.default };

const SORTS: readonly SortOrder[] = ['similarity', 'date', 'name'];

export function isSort(v: unknown): v is SortOrder {
  return SORTS.includes(v as SortOrder);
}

export function readView(v: unknown, fallback: Required<GalleryState> = DEFAULT_VIEW): Required<GalleryState> {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const threshold = typeof o.threshold === 'number' && o.threshold >= -1 && o.threshold <= 1 ? o.threshold : fallback.threshold;
  const size = typeof o.size === 'number' && o.size >= SIZES.min && o.size <= SIZES.max ? o.size : fallback.size;
  return { threshold, sort: isSort(o.sort) ? o.sort : fallback.sort, size };
}

export class Host {
  private readonly api: VsCodeApi;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private pending: SavedState | undefined;
  private deadline = Infinity;
  /** How long the last setState took (the benchmark reports it). */
  lastSaveMs = 0;

  constructor() {
    this.api = acquireVsCodeApi();
    addEventListener('pagehide', () => this.flush());
  }

  post<K extends CommandName>(type: K, params: Commands[K]): void {
    this.api.postMessage({ type, params });
  }

  load(): SavedState {
    let raw: unknown;
    try {
      raw = this.api.getState();
    } catch {
      raw = undefined;
    }
    const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<SavedState>;
    const state: SavedState = { v: 1, view: readView(o.view) };
    if (o.v !== 1) return state;
    if (typeof o.search === 'number') state.search = o.search;
    if (o.query && typeof o.query.src === 'string' && Array.isArray(o.query.faces)) state.query = o.query;
    if (o.failed && typeof o.failed.message === 'string') state.failed = o.failed;
    if (Array.isArray(o.items)) state.items = o.items;
    if (typeof o.floor === 'number') state.floor = o.floor;
    state.complete = o.complete === true;
    if (o.anchor && typeof o.anchor.id === 'number' && typeof o.anchor.offset === 'number') state.anchor = o.anchor;
    return state;
  }

  /**
   * Saves once things rest: the state may hold thousands of results, which VS Code serializes
   * whole (about 40 ms for 5,000), so a burst ends in one save, never in one per frame. A change
   * of the results is saved at most 2 s late however long the burst; `idle` changes (scrolling,
   * thumbnails arriving) wait for a pause, or for the page to go away.
   */
  save(state: SavedState, idle = false): void {
    const now = Date.now();
    if (!this.pending) this.deadline = Infinity;
    if (!idle) this.deadline = Math.min(this.deadline, now + 2000);
    this.pending = state;
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.flush(), Math.max(0, Math.min(idle ? 1000 : 400, this.deadline - now)));
  }

  flush(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const state = this.pending;
    this.pending = undefined;
    if (state) {
      const t0 = performance.now();
      this.api.setState(state);
      this.lastSaveMs = performance.now() - t0;
    }
  }
}
