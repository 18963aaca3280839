/**
 * The gallery webview of "Find Similar Faces": the query photo (pick the face), the results
 * grid with a live threshold, the preview, drag and drop, index progress. Plain DOM; it talks
 * to the extension only through src/shared/protocol.ts.
 */
import './gallery.css';
import type { GalleryState, IndexProgress, NotificationMessage, Notifications, QueryInfo, ResultItem } from '../shared/protocol';
import { LIMITS } from '../shared/protocol';
import { h } from './dom';
import { installDrop } from './drop';
import { Grid, type Action } from './grid';
import { Host, isSort, readView, SIZES, type SavedState } from './host';
import { filterItems, formatCount, plural, sortItems } from './model';
import { Preview } from './preview';
import { QueryView } from './query';

class App {
  private readonly host = new Host();
  private readonly queryView: QueryView;
  private readonly grid: Grid;
  private readonly preview: Preview;

  private readonly count = h('h1', { class: 'count' });
  private readonly countSub = h('span', { class: 'count-sub' });
  private readonly threshold = h('input', { type: 'range', class: 'threshold', min: 0, max: 100, step: 1, 'aria-label': 'Similarity threshold' });
  private readonly thresholdOut = h('output', { class: 'threshold-value', 'aria-hidden': 'true' });
  private readonly sort = h(
    'select',
    { class: 'sort', 'aria-label': 'Sort by' },
    h('option', { value: 'similarity' }, 'Similarity'),
    h('option', { value: 'date' }, 'Date, newest first'),
    h('option', { value: 'name' }, 'Name'),
  );
  private readonly size = h('input', { type: 'range', class: 'size', min: SIZES.min, max: SIZES.max, step: SIZES.step, 'aria-label': 'Thumbnail size' });
  private readonly saveAll = h('button', { type: 'button', class: 'button primary save-all' }, 'Save All Matches…');
  private readonly saveAllHl = h('button', { type: 'button', class: 'button secondary save-all-highlights' }, 'Save All with Highlights…');
  /** Index progress, shown. */
  private readonly status = h('div', { class: 'status' });
  /** What a screen reader is told: the count once the slider rests, and changes of the index state. */
  private readonly live = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  private spoken = '';
  private readonly notice = h('div', { class: 'notice', role: 'alert', hidden: true });
  private readonly progressBar = h('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Indexing photos', hidden: true }, h('div', { class: 'progress-fill' }));
  private readonly empty = h('div', { class: 'empty', hidden: true });
  private readonly results: HTMLElement;
  private readonly controls: HTMLElement;

  private search: number | undefined;
  private query: QueryInfo | undefined;
  private failed: SavedState['failed'];
  private all: ResultItem[] = [];
  private readonly byId = new Map<number, ResultItem>();
  private sorted: ResultItem[] = [];
  private visible: ResultItem[] = [];
  private floor: number | undefined;
  private complete = false;
  private view: Required<GalleryState>;
  private progress: IndexProgress | undefined;
  private searching = false;
  /** The search the results shown belong to (they may be an older one's while a new one starts). */
  private itemsSearch: number | undefined;
  private statusTimer: ReturnType<typeof setTimeout> | undefined;
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    const saved = this.host.load();
    this.view = saved.view;
    this.queryView = new QueryView((face) => this.selectFace(face));
    this.grid = new Grid(
      {
        preview: (i) => this.preview.open(this.visible, i),
        action: (a, item) => this.act(a, item),
        needThumbs: (ids) => this.host.post('thumbs', { ids }),
        scrolled: () => this.persist(true),
      },
      this.view.size,
    );
    this.preview = new Preview({
      request: (id) => this.host.post('preview', { id }),
      action: (a, item) => this.act(a, item),
      closed: (i) => this.grid.focusIndex(i),
    });
    this.results = h('main', { class: 'results' }, this.progressBar, this.grid.el, this.empty);
    const controls = (this.controls = h(
      'div',
      { class: 'controls' },
      h('div', { class: 'headline' }, this.count, this.countSub),
      h(
        'div',
        { class: 'control-row filters' },
        h('label', { class: 'field threshold-field' }, h('span', { class: 'label' }, 'Similarity'), this.threshold, this.thresholdOut),
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'Sort by'), this.sort),
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'Size'), this.size),
      ),
      h('div', { class: 'control-row actions-row' }, this.saveAll, this.saveAllHl),
      this.status,
      this.live,
      this.notice,
      h('div', { class: 'hint' }, 'Drop an image here to search for it (from the Explorer: hold Shift while dropping).'),
    ));
    const header = h('header', { class: 'top' }, this.queryView.el, controls);
    document.body.append(h('div', { class: 'app' }, header, this.results), this.preview.el);
    installDrop(document.body, {
      uri: (uri) => this.host.post('dropUri', { uri }),
      file: (name, bytes) => this.host.post('dropFile', { name, bytes }),
      reject: (message) => this.showNotice('error', message),
    });

    this.threshold.addEventListener('input', () => this.setThreshold(Number(this.threshold.value) / 100, false));
    this.threshold.addEventListener('change', () => this.setThreshold(Number(this.threshold.value) / 100, true));
    this.sort.addEventListener('change', () => {
      if (isSort(this.sort.value)) this.setView({ sort: this.sort.value });
    });
    this.size.addEventListener('input', () => {
      this.view.size = Number(this.size.value);
      this.grid.setMinCell(this.view.size);
    });
    this.size.addEventListener('change', () => this.setView({ size: Number(this.size.value) }));
    this.saveAll.addEventListener('click', () => this.saveAllMatches(false));
    this.saveAllHl.addEventListener('click', () => this.saveAllMatches(true));
    addEventListener('message', (e: MessageEvent) => this.receive(e.data));

    // A reload: show what was there before the extension sends anything.
    this.search = saved.search;
    if (saved.query) this.query = saved.query;
    if (saved.query) this.queryView.show(saved.query);
    else if (saved.failed) {
      this.failed = saved.failed;
      this.queryView.showFailed(saved.failed.name, saved.failed.src, saved.failed.message);
    }
    this.floor = saved.floor;
    this.itemsSearch = saved.search;
    this.complete = saved.complete ?? false;
    if (saved.anchor) this.grid.restoreAnchor(saved.anchor);
    this.setAll(saved.items ?? []);
    this.render();
    this.host.post('ready', {});
  }

  private receive(data: unknown): void {
    if (typeof data !== 'object' || data === null || typeof (data as { type?: unknown }).type !== 'string') return;
    const m = data as NotificationMessage;
    switch (m.type) {
      case 'query': return this.onQuery(m.params);
      case 'queryFailed': return this.onQueryFailed(m.params);
      case 'results': return this.onResults(m.params);
      case 'thumbs': return this.onThumbs(m.params);
      case 'preview': return this.preview.setLarge(m.params.id, m.params.src);
      case 'progress': return this.onProgress(m.params);
      case 'notice': return this.showNotice(m.params.level, m.params.message);
    }
  }

  private onQuery(p: Notifications['query']): void {
    const sameSearch = p.search === this.search;
    const samePhoto = this.query?.src === p.query.src;
    this.search = p.search;
    this.query = p.query;
    this.failed = undefined;
    this.view = readView(p.state, this.view);
    this.grid.setMinCell(this.view.size);
    this.queryView.show(p.query);
    if (!sameSearch) {
      this.preview.close();
      this.floor = undefined;
      this.complete = false;
      this.searching = true;
      // Another face of the same photo: the old results stay, dimmed and inert, until the new ones
      // come (no flash of an empty page). Otherwise the page empties at once.
      if (!(samePhoto && this.all.length)) {
        this.grid.reset();
        this.setAll([]);
      }
    }
    this.refilter();
    this.render();
    this.persist();
  }

  private onQueryFailed(p: Notifications['queryFailed']): void {
    this.search = p.search;
    this.query = undefined;
    this.failed = { name: p.name, src: p.src, message: p.message };
    this.queryView.showFailed(p.name, p.src, p.message);
    this.grid.reset();
    this.preview.close();
    this.floor = undefined;
    this.complete = true;
    this.searching = false;
    this.setAll([]);
    this.render();
    this.persist();
  }

  private onResults(p: Notifications['results']): void {
    if (p.search !== this.search) return;
    if (this.itemsSearch === p.search) {
      // Keep the thumbnails already received: a result list sent again may not carry them yet.
      for (const item of p.items) {
        const old = this.byId.get(item.id);
        if (!item.thumb && old?.thumb) item.thumb = old.thumb;
      }
    } else {
      this.grid.reset();
    }
    this.itemsSearch = p.search;
    this.floor = p.floor;
    this.complete = p.complete;
    this.searching = false;
    this.setAll(p.items);
    this.render();
    this.persist();
  }

  private onThumbs(p: Notifications['thumbs']): void {
    for (const { id, thumb } of p.items) {
      const item = this.byId.get(id);
      if (!item) continue;
      item.thumb = thumb;
      this.grid.setThumb(id);
      this.preview.thumbArrived(id);
    }
    this.persist(true);
  }

  private onProgress(p: IndexProgress): void {
    this.progress = p;
    const active = p.state === 'starting' || p.state === 'indexing';
    this.progressBar.hidden = !active && p.state !== 'paused';
    const fill = this.progressBar.firstElementChild as HTMLElement;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    this.progressBar.classList.toggle('indeterminate', p.state === 'starting' || p.total === 0);
    fill.style.width = `${(frac * 100).toFixed(2)}%`;
    this.progressBar.setAttribute('aria-valuemin', '0');
    this.progressBar.setAttribute('aria-valuemax', String(p.total));
    this.progressBar.setAttribute('aria-valuenow', String(p.done));
    this.renderStatus();
  }

  private setAll(items: ResultItem[]): void {
    this.all = items;
    this.byId.clear();
    for (const it of items) this.byId.set(it.id, it);
    this.refilter();
  }

  /** Sort and threshold applied; the grid and an open preview follow. */
  private refilter(): void {
    this.sorted = sortItems(this.all, this.view.sort);
    this.visible = filterItems(this.sorted, this.thresholdPercent());
    this.grid.setItems(this.visible);
    this.preview.setList(this.visible);
  }

  private thresholdPercent(): number {
    return Math.round(this.view.threshold * 100);
  }

  private setThreshold(t: number, commit: boolean): void {
    if (t !== this.view.threshold) {
      this.view.threshold = t;
      this.visible = filterItems(this.sorted, this.thresholdPercent());
      this.grid.setItems(this.visible);
      this.preview.setList(this.visible);
      this.render();
    }
    if (commit) this.setView({});
  }

  private setView(change: Partial<GalleryState>): void {
    const sortChanged = change.sort !== undefined && change.sort !== this.view.sort;
    Object.assign(this.view, change);
    if (sortChanged) {
      this.refilter();
      this.grid.focusIndex(0);
      this.grid.el.scrollTop = 0;
    }
    this.host.post('state', { threshold: this.view.threshold, sort: this.view.sort, size: this.view.size });
    this.render();
    this.persist();
  }

  private selectFace(face: number): void {
    if (this.search === undefined) return;
    this.searching = true;
    this.host.post('selectFace', { search: this.search, face });
    this.render();
  }

  private act(action: Action, item: ResultItem): void {
    if (action === 'open') this.host.post('open', { id: item.id });
    else if (action === 'reveal') this.host.post('reveal', { id: item.id });
    else this.host.post('save', { id: item.id, highlights: action === 'saveHighlights' });
  }

  private saveAllMatches(highlights: boolean): void {
    const ids = this.visible.map((it) => it.id);
    if (!ids.length) return;
    if (ids.length > LIMITS.ids) this.showNotice('info', `Saving the first ${formatCount(LIMITS.ids)} of ${formatCount(ids.length)} matches; raise the threshold to save the rest.`);
    this.host.post('saveAll', { ids: ids.slice(0, LIMITS.ids), highlights });
  }

  private showNotice(level: 'info' | 'error', message: string): void {
    this.notice.textContent = message;
    this.notice.hidden = false;
    this.notice.classList.toggle('error', level === 'error');
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice.hidden = true), level === 'error' ? 15_000 : 8_000);
  }

  /** Everything but the grid: counts, slider, buttons, empty-state message. */
  private render(): void {
    const n = this.visible.length;
    const total = this.all.length;
    const tp = this.thresholdPercent();
    const lo = this.floor === undefined ? 0 : Math.max(0, Math.ceil(this.floor * 100 - 1e-9));
    this.threshold.min = String(Math.min(lo, tp));
    this.threshold.value = String(tp);
    this.threshold.setAttribute('aria-valuetext', `at least ${tp}% similar`);
    const fill = (el: HTMLInputElement): void => {
      const min = Number(el.min);
      const max = Number(el.max);
      el.style.setProperty('--fill', `${(((Number(el.value) - min) / (max - min || 1)) * 100).toFixed(1)}%`);
    };
    this.thresholdOut.textContent = `≥ ${tp}%`;
    this.sort.value = this.view.sort;
    this.size.value = String(this.view.size);
    fill(this.threshold);
    fill(this.size);
    this.count.textContent = this.query || total ? plural(n, 'match', 'matches') : this.failed ? 'No face to search for' : 'No search yet';
    this.countSub.textContent = total > n ? `of ${plural(total, 'candidate', 'candidates')}` : '';
    this.saveAll.disabled = this.saveAllHl.disabled = n === 0;
    this.saveAll.textContent = n > 1 ? `Save All ${formatCount(n)} Matches…` : 'Save All Matches…';
    // Without a query (none yet, or no face in it) the filters and Save All have nothing to act on.
    for (const row of this.controls.querySelectorAll<HTMLElement>('.filters, .actions-row')) row.hidden = !this.query && !total;
    const stale = this.searching && total > 0;
    this.results.classList.toggle('stale', stale);
    this.grid.el.inert = stale;
    this.results.setAttribute('aria-busy', String(this.searching || !this.complete));
    this.grid.el.hidden = n === 0;

    let message = '';
    if (!this.query && !this.failed && !total) message = 'Right-click a photo and choose “Find Similar Faces”, or drop an image here.';
    else if (this.failed) message = 'Drop another image here, or pick a photo with a face in the Explorer.';
    else if (this.searching && !total) message = 'Searching…';
    else if (!total) message = this.complete ? 'No photo with this face was found.' : 'No match yet: the album is still being indexed.';
    else if (!n) message = `No photo is at least ${tp}% similar. Lower the threshold to see the ${plural(total, 'candidate', 'candidates')}.`;
    this.empty.textContent = message;
    this.empty.hidden = !message;
    this.renderStatus();
  }

  /** The progress line, and the live region (said once things rest: not on every slider step). */
  private renderStatus(): void {
    const p = this.progress;
    let progress = '';
    if (p && (p.state === 'starting' || p.state === 'indexing')) {
      progress = p.total ? `Indexing photos: ${formatCount(p.done)} of ${formatCount(p.total)}; showing the results so far.` : 'Indexing photos…';
    } else if (p?.state === 'paused') progress = `Indexing paused at ${formatCount(p.done)} of ${formatCount(p.total)} photos; showing the results so far.`;
    else if (p?.state === 'error') progress = 'Indexing stopped with an error; showing the results so far.';
    else if (this.query && !this.complete && !this.searching && this.all.length) progress = 'Still searching; showing the results so far.';
    if (p && p.failed > 0) progress += `${progress ? ' ' : ''}${plural(p.failed, 'photo', 'photos')} could not be read.`;
    this.status.textContent = progress;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => {
      const parts: string[] = [];
      if (this.query && !this.searching) parts.push(`${plural(this.visible.length, 'match', 'matches')} at ${this.thresholdPercent()}% or more.`);
      if (p && p.state !== 'indexing' && p.state !== 'starting') parts.push(p.state === 'idle' ? 'Index up to date.' : progress);
      const text = parts.join(' ');
      // Progress alone changes often: it is not read out while indexing runs.
      if (text !== this.spoken) this.live.textContent = this.spoken = text;
    }, 600);
  }

  /** Saves the state for a reload; `idle`: only once things rest (scrolling, thumbnails streaming in). */
  private persist(idle = false): void {
    this.host.save({
      v: 1,
      search: this.search,
      query: this.query,
      failed: this.failed,
      items: this.all,
      floor: this.floor,
      complete: this.complete,
      view: { ...this.view },
      anchor: this.grid.anchor(),
    }, idle);
  }
}

/** For tests and the benchmark: the running app. */
declare global {
  interface Window {
    glimpseGallery?: unknown;
  }
}

window.glimpseGallery = new App();
