/** Files of every bad kind a real album holds, made on the fly for tests. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG header that declares width x height RGB pixels with almost no data: a decompression bomb's shape. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export type BadKind = 'empty' | 'truncated' | 'not-an-image' | 'too-many-pixels' | 'too-large';

/** Writes one file of each bad kind into `dir`, derived from the real JPEG `jpeg`; returns name -> expected kind. */
export function writeBadFiles(dir: string, jpeg: Buffer, maxBytes: number): Map<string, BadKind> {
  const files = new Map<string, BadKind>([
    ['empty.jpg', 'empty'],
    ['truncated.jpg', 'truncated'],
    ['notes.JPG', 'not-an-image'],
    ['bomb.png', 'too-many-pixels'],
    ['huge.jpeg', 'too-large'],
  ]);
  writeFileSync(path.join(dir, 'empty.jpg'), Buffer.alloc(0));
  writeFileSync(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  writeFileSync(path.join(dir, 'notes.JPG'), 'shopping list: milk, eggs\n');
  writeFileSync(path.join(dir, 'bomb.png'), pngDeclaring(50000, 50000));
  // A real JPEG followed by padding, just over the limit: rejected for its size, not its content.
  writeFileSync(path.join(dir, 'huge.jpeg'), Buffer.concat([jpeg, Buffer.alloc(maxBytes + 1 - jpeg.length)]));
  return files;
}
