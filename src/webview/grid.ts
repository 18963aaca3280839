/**
 * The results grid, virtualized: only the rows in view (plus a little overscan, plus the row of
 * the keyboard-active cell) are in the DOM. Every row has the same height, computed from the
 * column width, so the scroll height is known without measuring anything. Cells are keyed by
 * result id and reused across renders and result updates: a thumbnail already shown is never
 * reloaded, so a growing result list does not flicker.
 */
import type { ResultItem } from '../shared/protocol';
import { clamp, h, iconButton, pct, placeBox } from './dom';
import { formatDate, percent } from './model';

export type Action = 'open' | 'reveal' | 'save' | 'saveHighlights';

export interface GridEvents {
  preview(index: number): void;
  action(action: Action, item: ResultItem): void;
  needThumbs(ids: number[]): void;
  scrolled(): void;
}

/** Width / height of every thumbnail frame; photos are fitted inside (never cropped). */
export const FRAME_ASPECT = 4 / 3;
const CAPTION = 50;
const GAP = 12;
const PAD = 12;
const OVERSCAN = 2;
const THUMB_BATCH = 120;

interface Cell extends HTMLElement {
  item?: ResultItem;
}

export class Grid {
  readonly el: HTMLElement;
  private readonly sizer: HTMLElement;
  private items: ResultItem[] = [];
  private minCell: number;
  private width = 0;
  private height = 0;
  private cols = 1;
  private rowH = 0;
  private active = 0;
  private cells = new Map<number, Cell>();
  private rows = new Map<number, HTMLElement>();
  private frame = 0;
  private requested = new Set<number>();
  private thumbTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingAnchor: { id: number; offset: number } | undefined;
  /** Scrolling fast: new cells show placeholders, their images load once the scrolling slows. */
  private flinging = false;
  private flingTimer: ReturnType<typeof setTimeout> | undefined;
  private lastScroll = { top: 0, t: 0 };

  constructor(private readonly events: GridEvents, minCell: number) {
    this.minCell = minCell;
    this.el = h('div', { class: 'grid', role: 'grid', 'aria-label': 'Matching photos', 'aria-rowcount': 0, 'aria-colcount': 1 });
    this.sizer = h('div', { class: 'grid-sizer' });
    this.el.append(this.sizer);
    new ResizeObserver(() => this.measure()).observe(this.el);
    this.el.addEventListener('scroll', () => {
      this.trackSpeed();
      this.schedule();
      this.events.scrolled();
    }, { passive: true });
    this.sizer.addEventListener('click', (e) => this.onClick(e));
    this.sizer.addEventListener('keydown', (e) => this.onKey(e));
    this.sizer.addEventListener('focusin', (e) => {
      const cell = (e.target as HTMLElement).closest<Cell>('.cell');
      if (cell?.dataset.index) this.setActive(Number(cell.dataset.index));
    });
  }

  get count(): number {
    return this.items.length;
  }

  get columns(): number {
    return this.cols;
  }

  get activeIndex(): number {
    return this.active;
  }

  /** Replaces the list, keeping the item at the top of the view (and the active item) where they were. */
  setItems(items: ResultItem[]): void {
    const anchor = this.pendingAnchor ?? this.anchor();
    const activeId = this.items[this.active]?.id;
    this.items = items;
    const idx = activeId === undefined ? -1 : items.findIndex((it) => it.id === activeId);
    this.active = idx >= 0 ? idx : clamp(this.active, 0, Math.max(0, items.length - 1));
    this.layout();
    if (anchor) this.restoreAnchor(anchor);
    else if (this.el.scrollTop > this.maxScroll()) this.el.scrollTop = this.maxScroll();
    this.render();
  }

  /** Forgets thumbnails asked for: a new search. */
  reset(): void {
    this.requested.clear();
    this.pendingAnchor = undefined;
    this.active = 0;
    this.el.scrollTop = 0;
  }

  setMinCell(px: number): void {
    if (px === this.minCell) return;
    const anchor = this.anchor();
    this.minCell = px;
    this.layout();
    if (anchor) this.restoreAnchor(anchor);
    this.render();
  }

  /** The result at the top of the view and how far (px) the view is scrolled past its row; undefined at the top. */
  anchor(): { id: number; offset: number } | undefined {
    if (this.pendingAnchor) return this.pendingAnchor;
    const st = this.el.scrollTop;
    if (!this.rowH || st <= 0 || !this.items.length) return undefined;
    const row = clamp(Math.floor((st - PAD) / this.rowH), 0, this.rowCount() - 1);
    const item = this.items[row * this.cols];
    return item && { id: item.id, offset: st - (PAD + row * this.rowH) };
  }

  /** Scrolls so that `anchor` is where it was (applied once the grid has a size). */
  restoreAnchor(anchor: { id: number; offset: number }): void {
    if (!this.rowH) {
      this.pendingAnchor = anchor;
      return;
    }
    this.pendingAnchor = undefined;
    const idx = this.items.findIndex((it) => it.id === anchor.id);
    if (idx < 0) return;
    const row = Math.floor(idx / this.cols);
    this.el.scrollTop = clamp(PAD + row * this.rowH + clamp(anchor.offset, 0, this.rowH), 0, this.maxScroll());
  }

  setThumb(id: number): void {
    const cell = this.cells.get(id);
    if (cell?.item) this.fillThumb(cell, cell.item);
  }

  focusIndex(index: number): void {
    if (!this.items.length) return;
    this.setActive(clamp(index, 0, this.items.length - 1));
    this.scrollIntoView(this.active);
    this.render();
    this.cells.get(this.items[this.active].id)?.focus({ preventScroll: true });
  }

  /** The DOM cell of a result, when rendered (tests and the preview use it). */
  cellOf(id: number): HTMLElement | undefined {
    return this.cells.get(id);
  }

  private setActive(index: number): void {
    if (index === this.active) return;
    const old = this.items[this.active] && this.cells.get(this.items[this.active].id);
    this.active = index;
    if (old) this.setTabStops(old, false);
    const cell = this.items[index] && this.cells.get(this.items[index].id);
    if (cell) this.setTabStops(cell, true);
  }

  private setTabStops(cell: Cell, active: boolean): void {
    cell.tabIndex = active ? 0 : -1;
    for (const b of cell.querySelectorAll('button')) b.tabIndex = active ? 0 : -1;
  }

  private rowCount(): number {
    return Math.ceil(this.items.length / this.cols);
  }

  private maxScroll(): number {
    return Math.max(0, this.sizer.offsetHeight - this.height);
  }

  private measure(): void {
    const w = this.el.clientWidth;
    const hgt = this.el.clientHeight;
    if (w === this.width && hgt === this.height) return;
    const anchor = this.anchor();
    this.width = w;
    this.height = hgt;
    this.layout();
    if (anchor) this.restoreAnchor(anchor);
    this.render();
  }

  private layout(): void {
    if (!this.width) return;
    const inner = this.width - 2 * PAD;
    this.cols = Math.max(1, Math.floor((inner + GAP) / (this.minCell + GAP)));
    const cellW = (inner - GAP * (this.cols - 1)) / this.cols;
    const frameH = Math.round(cellW / FRAME_ASPECT);
    this.rowH = frameH + CAPTION + GAP;
    const rows = this.rowCount();
    this.sizer.style.height = `${rows ? rows * this.rowH - GAP + 2 * PAD : 0}px`;
    this.el.style.setProperty('--cols', String(this.cols));
    this.el.style.setProperty('--frame-h', `${frameH}px`);
    this.el.style.setProperty('--row-h', `${this.rowH - GAP}px`);
    this.el.setAttribute('aria-rowcount', String(rows));
    this.el.setAttribute('aria-colcount', String(this.cols));
  }

  private scrollIntoView(index: number): void {
    if (!this.rowH) return;
    const top = PAD + Math.floor(index / this.cols) * this.rowH;
    const bottom = top + this.rowH - GAP;
    const st = this.el.scrollTop;
    if (top < st) this.el.scrollTop = top - PAD;
    else if (bottom > st + this.height) this.el.scrollTop = bottom - this.height + PAD;
  }

  /** Faster than about a screen every 250 ms counts as flinging: loading every image passed by would only slow the scrolling. */
  private trackSpeed(): void {
    const now = performance.now();
    const top = this.el.scrollTop;
    const dt = now - this.lastScroll.t;
    const speed = dt > 0 ? Math.abs(top - this.lastScroll.top) / dt : 0;
    this.lastScroll = { top, t: now };
    if (dt < 200 && speed * 250 > Math.max(this.height, 1)) this.flinging = true;
    if (this.flingTimer !== undefined) clearTimeout(this.flingTimer);
    this.flingTimer = setTimeout(() => {
      this.flingTimer = undefined;
      if (!this.flinging) return;
      this.flinging = false;
      for (const cell of this.cells.values()) if (cell.item && cell.dataset.deferred) this.fillThumb(cell, cell.item);
      this.askThumbs();
    }, 120);
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  /** Puts exactly the rows in view (and the active row) into the DOM. */
  render(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    const n = this.items.length;
    const hadFocus = this.sizer.contains(document.activeElement);
    const cells = new Map<number, Cell>();
    const rows = new Map<number, HTMLElement>();
    if (n && this.rowH) {
      const st = this.el.scrollTop;
      const last = this.rowCount() - 1;
      const first = clamp(Math.floor((st - PAD) / this.rowH) - OVERSCAN, 0, last);
      const end = clamp(Math.floor((st + this.height - PAD) / this.rowH) + OVERSCAN, 0, last);
      const wanted: number[] = [];
      for (let r = first; r <= end; r++) wanted.push(r);
      const activeRow = Math.floor(this.active / this.cols);
      if (activeRow < first || activeRow > end) wanted.push(activeRow);
      for (const r of wanted) rows.set(r, this.renderRow(r, cells));
    }
    for (const [r, row] of this.rows) if (!rows.has(r)) row.remove();
    for (const [id, cell] of this.cells) if (!cells.has(id)) cell.remove();
    this.rows = rows;
    this.cells = cells;
    if (hadFocus && !this.sizer.contains(document.activeElement) && n) this.cells.get(this.items[this.active].id)?.focus({ preventScroll: true });
    this.askThumbs();
  }

  private renderRow(r: number, cells: Map<number, Cell>): HTMLElement {
    let row = this.rows.get(r);
    if (!row) {
      row = h('div', { class: 'grid-row', role: 'row' });
      this.sizer.append(row);
    }
    row.style.transform = `translateY(${PAD + r * this.rowH}px)`;
    row.setAttribute('aria-rowindex', String(r + 1));
    const start = r * this.cols;
    const stop = Math.min(this.items.length, start + this.cols);
    for (let i = start; i < stop; i++) {
      const item = this.items[i];
      let cell = this.cells.get(item.id) ?? cells.get(item.id);
      if (cell) {
        if (cell.item !== item) this.fillCell(cell, item);
      } else {
        cell = this.makeCell(item);
      }
      cells.set(item.id, cell);
      const slot = i - start;
      if (row.children[slot] !== cell) row.insertBefore(cell, row.children[slot] ?? null);
      cell.dataset.index = String(i);
      cell.setAttribute('aria-colindex', String(slot + 1));
      const isActive = i === this.active;
      if ((cell.tabIndex === 0) !== isActive) this.setTabStops(cell, isActive);
    }
    while (row.children.length > stop - start) row.lastElementChild!.remove();
    return row;
  }

  private makeCell(item: ResultItem): Cell {
    const cell: Cell = h('div', { class: 'cell', role: 'gridcell', tabindex: -1 });
    const photo = h('div', { class: 'photo' });
    const frame = h('div', { class: 'frame' }, photo);
    const name = h('div', { class: 'name' });
    const score = h('span', { class: 'score' });
    const date = h('span', { class: 'date' });
    const actions = h(
      'div',
      { class: 'actions' },
      iconButton('open', 'Open', { 'data-action': 'open', tabindex: -1 }),
      iconButton('reveal', 'Reveal in Explorer', { 'data-action': 'reveal', tabindex: -1 }),
      iconButton('save', 'Save a copy', { 'data-action': 'save', tabindex: -1 }),
      iconButton('saveHighlights', 'Save a copy with the face highlighted', { 'data-action': 'saveHighlights', tabindex: -1 }),
    );
    cell.append(frame, h('div', { class: 'caption' }, name, h('div', { class: 'meta' }, score, date, actions)));
    this.fillCell(cell, item);
    return cell;
  }

  private fillCell(cell: Cell, item: ResultItem): void {
    const old = cell.item;
    cell.item = item;
    const p = percent(item.score);
    const photo = cell.querySelector<HTMLElement>('.photo')!;
    if (!old || old.width !== item.width || old.height !== item.height || old.box.join() !== item.box.join()) {
      fitPhoto(photo, item.width, item.height, FRAME_ASPECT);
      let box = photo.querySelector<HTMLElement>('.match-box');
      if (!box) photo.append((box = h('div', { class: 'match-box', 'aria-hidden': 'true' })));
      placeBox(box, item.box, item.width, item.height);
    }
    const dateText = formatDate(item.mtime);
    cell.setAttribute('aria-label', `${item.name}, ${p}% similar${dateText ? `, ${dateText}` : ''}`);
    const name = cell.querySelector<HTMLElement>('.name')!;
    name.textContent = item.name;
    name.title = item.path;
    cell.querySelector('.score')!.textContent = `${p}%`;
    cell.querySelector('.date')!.textContent = dateText;
    this.fillThumb(cell, item);
  }

  private fillThumb(cell: Cell, item: ResultItem): void {
    const photo = cell.querySelector<HTMLElement>('.photo')!;
    let img = photo.querySelector('img');
    if (!item.thumb) {
      img?.remove();
      photo.classList.add('pending');
      return;
    }
    if (this.flinging && img?.getAttribute('src') !== item.thumb) {
      cell.dataset.deferred = '1';
      photo.classList.add('pending');
      return;
    }
    delete cell.dataset.deferred;
    if (!img) {
      img = h('img', { class: 'thumb', alt: '', draggable: 'false', decoding: 'async' });
      img.addEventListener('load', () => img!.closest('.photo')?.classList.remove('pending'));
      img.addEventListener('error', () => img!.closest('.photo')?.classList.add('broken'));
      photo.prepend(img);
    }
    if (img.getAttribute('src') !== item.thumb) {
      photo.classList.add('pending');
      photo.classList.remove('broken');
      img.src = item.thumb;
      if (img.complete && img.naturalWidth) photo.classList.remove('pending');
    }
  }

  /** Asks the extension for the thumbnails of the rendered results that have none yet, in batches. */
  private askThumbs(): void {
    if (this.thumbTimer !== undefined || this.flinging) return;
    this.thumbTimer = setTimeout(() => {
      this.thumbTimer = undefined;
      const ids: number[] = [];
      for (const [id, cell] of this.cells) {
        if (!cell.item?.thumb && !this.requested.has(id)) ids.push(id);
        if (ids.length >= THUMB_BATCH) break;
      }
      if (!ids.length) return;
      for (const id of ids) this.requested.add(id);
      this.events.needThumbs(ids);
    }, 50);
  }

  private onClick(e: MouseEvent): void {
    const target = e.target as HTMLElement;
    const cell = target.closest<Cell>('.cell');
    if (!cell?.item) return;
    const index = Number(cell.dataset.index);
    const button = target.closest<HTMLButtonElement>('button[data-action]');
    this.setActive(index);
    if (button) {
      this.events.action(button.dataset.action as Action, cell.item);
      return;
    }
    cell.focus({ preventScroll: true });
    this.events.preview(index);
  }

  private onKey(e: KeyboardEvent): void {
    const target = e.target as HTMLElement;
    const cell = target.closest<Cell>('.cell');
    if (!cell?.item) return;
    if (target !== cell) {
      // Inside a cell's toolbar: Escape goes back to the cell, arrows move between its buttons.
      const buttons = [...cell.querySelectorAll('button')];
      const i = buttons.indexOf(target as HTMLButtonElement);
      if (e.key === 'Escape') cell.focus();
      else if (e.key === 'ArrowRight' && i >= 0) buttons[(i + 1) % buttons.length].focus();
      else if (e.key === 'ArrowLeft' && i >= 0) buttons[(i + buttons.length - 1) % buttons.length].focus();
      else return;
      e.preventDefault();
      return;
    }
    const index = Number(cell.dataset.index);
    const perPage = Math.max(1, Math.floor(this.height / (this.rowH || 1))) * this.cols;
    let next: number | undefined;
    switch (e.key) {
      case 'ArrowRight': next = index + 1; break;
      case 'ArrowLeft': next = index - 1; break;
      case 'ArrowDown': next = index + this.cols; break;
      case 'ArrowUp': next = index - this.cols; break;
      case 'PageDown': next = index + perPage; break;
      case 'PageUp': next = index - perPage; break;
      case 'Home': next = e.ctrlKey ? 0 : index - (index % this.cols); break;
      case 'End': next = e.ctrlKey ? this.items.length - 1 : Math.min(this.items.length - 1, index - (index % this.cols) + this.cols - 1); break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.events.preview(index);
        return;
      default:
        return;
    }
    e.preventDefault();
    if (e.key === 'ArrowDown' && next >= this.items.length && Math.floor(index / this.cols) < this.rowCount() - 1) next = this.items.length - 1;
    if (next < 0 || next >= this.items.length) return;
    this.focusIndex(next);
  }
}

/** Fits a photo of width x height inside a frame of the given aspect, centred, in percent of the frame. */
export function fitPhoto(el: HTMLElement, width: number, height: number, frameAspect: number): void {
  const a = width / height;
  const w = a >= frameAspect ? 1 : a / frameAspect;
  const hh = a >= frameAspect ? frameAspect / a : 1;
  el.style.left = pct((1 - w) / 2);
  el.style.top = pct((1 - hh) / 2);
  el.style.width = pct(w);
  el.style.height = pct(hh);
}
