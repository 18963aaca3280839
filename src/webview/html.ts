/**
 * The gallery page. Pure (no `vscode` import): the extension host calls it with the webview's
 * cspSource and asWebviewUri'd bundle URIs; the webview tests call it with a local server's.
 * Under its Content-Security-Policy the page has no inline style or script but the nonce'd
 * bundle; the script builds the DOM and sets styles through the CSSOM only.
 */

export interface GalleryHtmlOptions {
  /** webview.cspSource */
  cspSource: string;
  /** A fresh random nonce per page (base64 or hex). */
  nonce: string;
  /** URI of dist/webview.js */
  scriptUri: string;
  /** URI of dist/webview.css */
  styleUri: string;
  title?: string;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function galleryCsp(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function galleryHtml(opts: GalleryHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]+$/.test(opts.nonce)) throw new Error('galleryHtml: the nonce must be base64 or hex');
  const title = esc(opts.title ?? 'Similar Faces');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(galleryCsp(opts.cspSource, opts.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${esc(opts.styleUri)}">
<title>${title}</title>
</head>
<body>
<script nonce="${opts.nonce}" src="${esc(opts.scriptUri)}"></script>
</body>
</html>
`;
}
