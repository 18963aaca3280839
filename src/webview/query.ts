/**
 * The query photo with its faces boxed. With several faces each box is a toggle button: click
 * one, or move with the arrow keys and press Enter/Space, to search for that face.
 */
import type { QueryInfo } from '../shared/protocol';
import { h, placeBox } from './dom';
import { plural } from './model';

export class QueryView {
  readonly el: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly caption: HTMLElement;
  private photo: HTMLElement | undefined;
  private img: HTMLImageElement | undefined;
  private query: QueryInfo | undefined;
  private selected = -1;

  constructor(private readonly onSelect: (face: number) => void) {
    this.stage = h('div', { class: 'query-stage' });
    this.caption = h('div', { class: 'query-caption' });
    this.el = h('section', { class: 'query', 'aria-label': 'Query photo', hidden: true }, this.stage, this.caption);
  }

  show(q: QueryInfo): void {
    this.query = q;
    this.selected = q.selected;
    this.el.hidden = false;
    this.el.classList.remove('failed');
    this.setPhoto(q.src, q.width, q.height, `Query photo ${q.name}`);
    const photo = this.photo!;
    photo.querySelector('.faces')?.remove();
    // Left to right, the order the user reads them in and the arrow keys follow.
    const order = q.faces.map((_, i) => i).sort((a, b) => q.faces[a].box[0] - q.faces[b].box[0]);
    const many = q.faces.length > 1;
    const faces = h('div', { class: 'faces', role: many ? 'toolbar' : 'presentation', 'aria-label': many ? 'Faces in the query photo' : undefined });
    order.forEach((fi, k) => {
      const label = `Face ${k + 1} of ${q.faces.length}`;
      const box = many
        ? h('button', { type: 'button', class: 'face', 'data-face': fi, 'aria-label': label, title: `Search for this face (${label.toLowerCase()})` })
        : h('div', { class: 'face', 'data-face': fi, 'aria-hidden': 'true' });
      placeBox(box, q.faces[fi].box, q.width, q.height);
      faces.append(box);
    });
    faces.addEventListener('click', (e) => {
      const b = (e.target as HTMLElement).closest<HTMLElement>('button.face');
      if (b) this.pick(Number(b.dataset.face));
    });
    faces.addEventListener('keydown', (e) => this.onKey(e, order));
    photo.append(faces);
    this.markSelected();
    this.caption.replaceChildren(
      h('div', { class: 'query-name', title: q.name }, q.name),
      h('div', { class: 'query-hint' }, many ? `${plural(q.faces.length, 'face', 'faces')}: click one to search for it` : 'Searching for this face'),
    );
  }

  showFailed(name: string, src: string | undefined, message: string): void {
    this.query = undefined;
    this.el.hidden = false;
    this.el.classList.add('failed');
    if (src) this.setPhoto(src, 0, 0, `Query photo ${name}`);
    else {
      this.stage.replaceChildren();
      this.photo = this.img = undefined;
    }
    this.caption.replaceChildren(h('div', { class: 'query-name', title: name }, name), h('div', { class: 'query-hint error' }, message));
  }

  clear(): void {
    this.query = undefined;
    this.el.hidden = true;
  }

  /** The face searched for, as an index into the query's faces. */
  get selectedFace(): number {
    return this.selected;
  }

  private setPhoto(src: string, width: number, height: number, alt: string): void {
    if (!this.photo || !this.img) {
      this.img = h('img', { class: 'query-img', alt, draggable: 'false' });
      this.photo = h('div', { class: 'photo' }, this.img);
      this.stage.replaceChildren(this.photo);
    }
    this.img.alt = alt;
    // The same photo again (another face picked): keep the element, so nothing flickers.
    if (this.img.getAttribute('src') !== src) this.img.src = src;
    if (width && height) this.el.style.setProperty('--aspect', String(width / height));
    else this.el.style.removeProperty('--aspect');
    this.photo.classList.toggle('natural', !(width && height));
  }

  private pick(face: number): void {
    if (!this.query || face === this.selected) return;
    this.selected = face;
    this.markSelected();
    this.onSelect(face);
  }

  private markSelected(): void {
    for (const b of this.el.querySelectorAll<HTMLElement>('.face')) {
      const on = Number(b.dataset.face) === this.selected;
      b.classList.toggle('selected', on);
      if (b instanceof HTMLButtonElement) {
        b.setAttribute('aria-pressed', String(on));
        b.tabIndex = on ? 0 : -1;
      }
    }
  }

  private onKey(e: KeyboardEvent, order: number[]): void {
    const b = (e.target as HTMLElement).closest<HTMLButtonElement>('button.face');
    if (!b) return;
    const k = order.indexOf(Number(b.dataset.face));
    let next = k;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') next = (k + 1) % order.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') next = (k + order.length - 1) % order.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = order.length - 1;
    else return;
    e.preventDefault();
    const buttons = this.el.querySelectorAll<HTMLButtonElement>('button.face');
    for (const other of buttons) other.tabIndex = -1;
    const target = [...buttons].find((x) => Number(x.dataset.face) === order[next]);
    if (target) {
      target.tabIndex = 0;
      target.focus();
    }
  }
}
