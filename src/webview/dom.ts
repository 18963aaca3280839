/** Small DOM helpers: the gallery builds its page from script (the CSP allows no inline markup styles). */

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** An element with attributes (false/undefined ones left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** 16 px line icons in the spirit of VS Code's codicons (drawn with currentColor). */
const ICONS = {
  open: 'M9.5 2.5h4v4M13.5 2.5 7.5 8.5M12 9.5v3.5a.5.5 0 0 1-.5.5h-9a.5.5 0 0 1-.5-.5v-9a.5.5 0 0 1 .5-.5H6',
  reveal: 'M1.5 3.5h4.5l1.5 1.5h7v7.5a.5.5 0 0 1-.5.5h-12a.5.5 0 0 1-.5-.5z',
  save: 'M8 1.5v8.5M4.5 6.5 8 10l3.5-3.5M2.5 13.5h11',
  saveHighlights: 'M1.5 2.5h6v6h-6zM11.5 1.5v7.5M9 6.5l2.5 2.5 2.5-2.5M2.5 13.5h11',
  close: 'M4 4l8 8M12 4l-8 8',
  prev: 'M10 3 5 8l5 5',
  next: 'M6 3l5 5-5 5',
} as const;
export type IconName = keyof typeof ICONS;

export function icon(name: IconName): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.25');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}

/** An icon button with an accessible name and a tooltip. */
export function iconButton(name: IconName, label: string, attrs: Attrs = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'icon-button', 'aria-label': label, title: label, ...attrs });
  b.append(icon(name));
  return b;
}

/** Positions `el` over a box given in pixels of a photo of `width` x `height`, in percent. */
export function placeBox(el: HTMLElement, box: readonly number[], width: number, height: number): void {
  const [x, y, w, bh] = box;
  const left = clamp(x / width, 0, 1);
  const top = clamp(y / height, 0, 1);
  el.style.left = pct(left);
  el.style.top = pct(top);
  el.style.width = pct(clamp((x + w) / width, 0, 1) - left);
  el.style.height = pct(clamp((y + bh) / height, 0, 1) - top);
}

export function pct(f: number): string {
  return `${(f * 100).toFixed(4)}%`;
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** The elements Tab can reach inside `root`, in order. */
export function tabbables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]')].filter(
    (el) => el.tabIndex >= 0 && !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0 && !el.closest('[hidden]'),
  );
}
