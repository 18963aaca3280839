/**
 * The preview: one result large, every face boxed and the matched one emphasised. Shows the
 * thumbnail at once and swaps in the large image when it has loaded. ←/→ move through the
 * results, Escape closes; Tab stays inside, and closing returns focus to the result shown last.
 */
import type { ResultItem } from '../shared/protocol';
import { h, icon, iconButton, placeBox, tabbables } from './dom';
import type { Action } from './grid';
import { formatDate, percent, sameBox } from './model';

export interface PreviewEvents {
  request(id: number): void;
  action(action: Action, item: ResultItem): void;
  closed(index: number): void;
}

export class Preview {
  readonly el: HTMLDialogElement;
  private readonly title: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly pathLine: HTMLElement;
  private readonly photo: HTMLElement;
  private readonly img: HTMLImageElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private list: ResultItem[] = [];
  private index = 0;
  private readonly large = new Map<number, string>();
  /** Large images the browser has loaded: shown at once, without the thumbnail first. */
  private readonly loaded = new Set<string>();
  private readonly asked = new Set<number>();
  private loading: HTMLImageElement | undefined;

  constructor(private readonly events: PreviewEvents) {
    this.title = h('h2', { id: 'preview-title', class: 'preview-title' });
    this.meta = h('span', { class: 'preview-meta' });
    this.pathLine = h('div', { class: 'preview-path' });
    this.img = h('img', { class: 'preview-img', alt: '', draggable: 'false' });
    this.photo = h('div', { class: 'photo' }, this.img);
    this.prev = iconButton('prev', 'Previous match (Left Arrow)', { class: 'icon-button nav prev' });
    this.next = iconButton('next', 'Next match (Right Arrow)', { class: 'icon-button nav next' });
    const textButton = (action: Action, label: string, name: 'open' | 'reveal' | 'save' | 'saveHighlights'): HTMLButtonElement => {
      const b = h('button', { type: 'button', class: 'button secondary', 'data-action': action }, icon(name), h('span', {}, label));
      return b;
    };
    const bar = h(
      'div',
      { class: 'preview-bar' },
      h('div', { class: 'preview-heading' }, this.title, this.meta),
      h(
        'div',
        { class: 'preview-actions' },
        textButton('open', 'Open', 'open'),
        textButton('reveal', 'Reveal in Explorer', 'reveal'),
        textButton('save', 'Save', 'save'),
        textButton('saveHighlights', 'Save with Highlights', 'saveHighlights'),
        iconButton('close', 'Close preview (Escape)', { 'data-close': '' }),
      ),
    );
    const stage = h('div', { class: 'preview-stage' }, this.photo);
    this.el = h(
      'dialog',
      { class: 'preview', 'aria-labelledby': 'preview-title', 'aria-describedby': 'preview-meta' },
      bar,
      h('div', { class: 'preview-body' }, this.prev, stage, this.next),
      this.pathLine,
    );
    this.meta.id = 'preview-meta';
    this.el.addEventListener('click', (e) => {
      const t = e.target as HTMLElement;
      const item = this.list[this.index];
      if (t.closest('[data-close]')) this.close();
      else if (t.closest('.nav.prev')) this.go(-1);
      else if (t.closest('.nav.next')) this.go(1);
      else {
        const b = t.closest<HTMLElement>('[data-action]');
        if (b && item) this.events.action(b.dataset.action as Action, item);
      }
    });
    this.el.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.close();
    });
    this.el.addEventListener('keydown', (e) => this.onKey(e));
  }

  get isOpen(): boolean {
    return this.el.open;
  }

  get currentId(): number | undefined {
    return this.isOpen ? this.list[this.index]?.id : undefined;
  }

  open(list: ResultItem[], index: number): void {
    this.list = list;
    if (!this.el.open) this.el.showModal();
    this.show(index);
    this.el.querySelector<HTMLElement>('[data-close]')!.focus();
  }

  /** The results changed under an open preview: keep showing the same photo. */
  setList(list: ResultItem[]): void {
    if (!this.isOpen) {
      this.list = list;
      return;
    }
    const id = this.list[this.index]?.id;
    const i = list.findIndex((it) => it.id === id);
    if (i < 0) return; // filtered out: keep the old list while it is shown
    this.list = list;
    this.index = i;
    this.updateMeta();
  }

  /** The large image of a result arrived. */
  setLarge(id: number, src: string): void {
    this.large.set(id, src);
    if (this.isOpen && this.list[this.index]?.id === id) this.loadLarge(src);
    else if (!this.loaded.has(src)) {
      // A neighbour's: load it now so that ←/→ shows it sharp at once.
      const pre = new Image();
      pre.onload = () => this.loaded.add(src);
      pre.src = src;
    }
  }

  /** A thumbnail arrived: use it if the large image is not there yet. */
  thumbArrived(id: number): void {
    const item = this.list[this.index];
    if (this.isOpen && item?.id === id && item.thumb && !this.img.getAttribute('src')) this.img.src = item.thumb;
  }

  close(): void {
    if (!this.el.open) return;
    this.loading = undefined;
    this.el.close();
    this.events.closed(this.index);
  }

  private go(delta: number): void {
    const i = this.index + delta;
    if (i >= 0 && i < this.list.length) this.show(i);
  }

  private show(index: number): void {
    const item = this.list[index];
    if (!item) return;
    this.index = index;
    this.title.textContent = item.name;
    this.pathLine.textContent = item.path;
    this.updateMeta();
    this.photo.style.setProperty('--aspect', String(item.width / item.height));
    for (const b of this.photo.querySelectorAll('.face, .match-box')) b.remove();
    for (const f of item.faces) {
      if (sameBox(f, item.box)) continue;
      const b = h('div', { class: 'face', 'aria-hidden': 'true' });
      placeBox(b, f, item.width, item.height);
      this.photo.append(b);
    }
    const match = h('div', { class: 'match-box', 'aria-hidden': 'true' });
    placeBox(match, item.box, item.width, item.height);
    this.photo.append(match);
    this.img.alt = `${item.name}, the matched face highlighted`;
    const large = this.large.get(item.id);
    this.loading = undefined;
    if (large && this.loaded.has(large)) {
      this.img.src = large;
      this.img.classList.remove('low');
    } else {
      // Until an image of this photo has loaded the browser would keep showing the previous photo,
      // under this one's boxes: show nothing rather than that.
      this.img.removeAttribute('src');
      if (item.thumb) this.img.src = item.thumb;
      this.img.classList.add('low');
      if (large) this.loadLarge(large);
      else this.ask(item.id);
    }
    // The neighbours next, so ←/→ show them sharp at once.
    for (const d of [1, -1]) {
      const n = this.list[index + d];
      if (n && !this.large.has(n.id)) this.ask(n.id);
    }
  }

  private ask(id: number): void {
    if (this.asked.has(id)) return;
    this.asked.add(id);
    this.events.request(id);
  }

  private loadLarge(src: string): void {
    if (this.img.getAttribute('src') === src) return;
    const loader = new Image();
    this.loading = loader;
    const id = this.list[this.index]?.id;
    loader.onload = () => {
      this.loaded.add(src);
      if (this.loading !== loader || this.list[this.index]?.id !== id) return;
      this.img.src = src;
      this.img.classList.remove('low');
    };
    loader.src = src;
  }

  private updateMeta(): void {
    const item = this.list[this.index];
    if (!item) return;
    const date = formatDate(item.mtime);
    this.meta.textContent = `${percent(item.score)}% similar · ${this.index + 1} of ${this.list.length}${date ? ` · ${date}` : ''}`;
    const focused = document.activeElement;
    this.prev.disabled = this.index === 0;
    this.next.disabled = this.index >= this.list.length - 1;
    // A nav button that just got disabled would drop the focus to the page: hand it to the other one.
    if (focused instanceof HTMLButtonElement && focused.disabled) (focused === this.prev ? this.next : this.prev).focus();
    if (document.activeElement instanceof HTMLButtonElement && document.activeElement.disabled) this.el.querySelector<HTMLElement>('[data-close]')?.focus();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      this.go(e.key === 'ArrowLeft' ? -1 : 1);
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      this.show(e.key === 'Home' ? 0 : this.list.length - 1);
    } else if (e.key === 'Tab') {
      // A webview is an iframe: without this Tab would leave the dialog for the workbench.
      const items = tabbables(this.el);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (e.shiftKey && (active === first || !this.el.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !this.el.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    }
  }
}
