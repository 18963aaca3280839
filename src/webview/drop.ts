/**
 * An image dropped onto the gallery starts a new search. From VS Code's Explorer a drop carries
 * URIs (VS Code hands a drag to a webview only while Shift is held); from the desktop it carries
 * a File, whose bytes are sent (up to LIMITS.dropBytes).
 */
import { LIMITS } from '../shared/protocol';
import { h } from './dom';

export interface DropEvents {
  uri(uri: string): void;
  file(name: string, bytes: Uint8Array): void;
  reject(message: string): void;
}

const IMAGE_EXT = /\.(jpe?g|png|webp|gif|avif|tiff?|bmp|heic|heif)$/i;
const URI_TYPES = ['application/vnd.code.uri-list', 'text/uri-list'];

/** The first URI of a uri-list (lines, '#' comments). */
export function firstUri(list: string): string | undefined {
  return list
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
}

function carriesSomething(dt: DataTransfer | null): boolean {
  return !!dt && [...dt.types].some((t) => t === 'Files' || URI_TYPES.includes(t));
}

export function installDrop(target: HTMLElement, events: DropEvents): HTMLElement {
  const overlay = h(
    'div',
    { class: 'drop-overlay', hidden: true, 'aria-hidden': 'true' },
    h('div', { class: 'drop-message' }, 'Drop an image to find the photos of its faces'),
  );
  target.append(overlay);
  let depth = 0;
  const hide = (): void => {
    depth = 0;
    overlay.hidden = true;
  };
  target.addEventListener('dragenter', (e) => {
    if (!carriesSomething(e.dataTransfer)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
  });
  target.addEventListener('dragover', (e) => {
    if (!carriesSomething(e.dataTransfer)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    overlay.hidden = false;
  });
  target.addEventListener('dragleave', () => {
    if (--depth <= 0) hide();
  });
  target.addEventListener('drop', (e) => {
    const dt = e.dataTransfer;
    hide();
    if (!dt) return;
    e.preventDefault();
    void handleDrop(dt, events);
  });
  return overlay;
}

export async function handleDrop(dt: DataTransfer, events: DropEvents): Promise<void> {
  const file = dt.files[0];
  if (file) {
    if (!(file.type.startsWith('image/') || IMAGE_EXT.test(file.name))) {
      events.reject(`${file.name || 'The dropped file'} is not an image.`);
      return;
    }
    if (file.size === 0) {
      events.reject(`${file.name} is empty.`);
      return;
    }
    if (file.size > LIMITS.dropBytes) {
      events.reject(`${file.name} is too large (${Math.round(file.size / 2 ** 20)} MB; at most ${LIMITS.dropBytes / 2 ** 20} MB).`);
      return;
    }
    const name = (file.name || 'dropped image').slice(0, LIMITS.name);
    events.file(name, new Uint8Array(await file.arrayBuffer()));
    return;
  }
  for (const type of URI_TYPES) {
    const uri = firstUri(dt.getData(type));
    if (!uri) continue;
    if (uri.length > LIMITS.uri) {
      events.reject('The dropped item has too long a path.');
      return;
    }
    events.uri(uri);
    return;
  }
  events.reject('Nothing to search for in what was dropped: drop an image file.');
}
