/** The path checks the extension applies to whatever the gallery webview or a drop names (src/extension/paths.ts). */
import * as assert from 'node:assert/strict';
import path from 'node:path';
import { AlbumFilter } from '../src/engine/album-filter';
import { IMAGE_EXTENSIONS } from '../src/engine/image-types';
import { isAlbumImage, isInside, uniqueName } from '../src/extension/paths';

describe('extension paths', () => {
  const album = path.resolve('/photos/album');
  const other = path.resolve('/mnt/more photos');
  const roots = [album, other];

  describe('isInside', () => {
    it('accepts files and folders below a root, at any depth', () => {
      assert.ok(isInside(path.join(album, 'a.jpg'), roots));
      assert.ok(isInside(path.join(album, '2024', 'summer', 'b.jpg'), roots));
      assert.ok(isInside(path.join(other, 'c.png'), roots));
      assert.ok(isInside(`${album}/`.concat('x/'), roots));
    });

    it('never accepts a root itself', () => {
      assert.ok(!isInside(album, roots));
      assert.ok(!isInside(`${album}/`, roots));
      assert.ok(!isInside(`${album}/.`, roots));
      assert.ok(!isInside(`${album}/sub/..`, roots));
    });

    it('resolves .. before deciding', () => {
      assert.ok(!isInside(`${album}/../secret.jpg`, roots));
      assert.ok(!isInside(`${album}/sub/../../secret.jpg`, roots));
      assert.ok(!isInside(`${album}/../../etc/passwd`, roots));
      assert.ok(isInside(`${album}/sub/../a.jpg`, roots), '.. that stays inside the album');
      // A file whose name merely starts with dots is not a parent reference.
      assert.ok(isInside(path.join(album, '..a.jpg'), roots));
      assert.ok(isInside(path.join(album, '...', 'a.jpg'), roots));
    });

    it('does not take a sibling folder with the same prefix for the root', () => {
      assert.ok(!isInside('/photos/album2/a.jpg', roots));
      assert.ok(!isInside('/photos/albu/a.jpg', roots));
      assert.ok(!isInside('/photos/album-old/a.jpg', roots));
    });

    it('rejects everything else', () => {
      assert.ok(!isInside('/etc/passwd', roots));
      assert.ok(!isInside('/', roots));
      assert.ok(!isInside('/photos', roots));
      assert.ok(!isInside(path.join(album, 'a.jpg'), []), 'no roots, nothing inside');
    });

    it('takes roots given with a trailing separator or unresolved segments', () => {
      assert.ok(isInside(path.join(album, 'a.jpg'), [`${album}/`]));
      assert.ok(isInside(path.join(album, 'a.jpg'), [`${album}/sub/..`]));
      assert.ok(!isInside(`${album}/`, [`${album}/`]));
    });

    it('resolves a relative path against the working directory', () => {
      const cwd = process.cwd();
      assert.ok(isInside('some/photo.jpg', [cwd]));
      assert.ok(!isInside('../photo.jpg', [cwd]));
    });
  });

  describe('isAlbumImage', () => {
    // The extension's filter before the index service named its formats: every image extension.
    const filter = new AlbumFilter(roots, {}, IMAGE_EXTENSIONS);
    it('is an image extension (any case) inside the album', () => {
      for (const name of ['a.jpg', 'a.JPG', 'a.jpeg', 'a.Jpe', 'a.png', 'a.webp', 'a.gif', 'a.tif', 'a.TIFF', 'a.avif', 'a.heic', 'a.HEIF']) {
        assert.ok(isAlbumImage(path.join(album, 'x', name), filter), name);
      }
    });

    it('refuses other files inside the album', () => {
      for (const name of ['notes.txt', 'a.jpg.exe', 'jpg', '.jpg.bak', 'a.svg', 'a', '.jpg']) {
        assert.ok(!isAlbumImage(path.join(album, name), filter), name);
      }
    });

    it('refuses images outside the album, however the path is written', () => {
      assert.ok(!isAlbumImage('/etc/x.jpg', filter));
      assert.ok(!isAlbumImage(`${album}/../etc/x.jpg`, filter));
      assert.ok(!isAlbumImage(`${album}/a/../../x.jpg`, filter));
      assert.ok(!isAlbumImage('/photos/album2/x.jpg', filter));
      assert.ok(!isAlbumImage(`${album}.jpg`, filter), 'a file next to the album named like it');
    });
  });

  describe('uniqueName', () => {
    it('keeps a free name', () => {
      assert.equal(uniqueName('a.jpg', () => false), 'a.jpg');
    });

    it('numbers a taken name before its extension, from 2', () => {
      const taken = new Set(['a.jpg', 'a (2).jpg', 'a (3).jpg']);
      assert.equal(uniqueName('a.jpg', (n) => taken.has(n)), 'a (4).jpg');
      assert.equal(uniqueName('b.jpg', (n) => n === 'b.jpg'), 'b (2).jpg');
    });

    it('handles names without an extension, with several dots, and dot files', () => {
      assert.equal(uniqueName('README', (n) => n === 'README'), 'README (2)');
      assert.equal(uniqueName('holiday.2024.jpeg', (n) => n === 'holiday.2024.jpeg'), 'holiday.2024 (2).jpeg');
      assert.equal(uniqueName('.hidden', (n) => n === '.hidden'), '.hidden (2)');
    });

    it('asks only until a name is free', () => {
      const asked: string[] = [];
      uniqueName('c.png', (n) => {
        asked.push(n);
        return asked.length < 3;
      });
      assert.deepEqual(asked, ['c.png', 'c (2).png', 'c (3).png']);
    });
  });
});
