/** Temporary albums of real photos for index tests. */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { demoPhoto, EVAL_DIR } from './photos';

export interface AlbumPhoto {
  /** path relative to the album */
  rel: string;
  /** who is in it, when known */
  person?: string;
}

/**
 * Fills `dir` with about `n` real photos: people from the labelled set when it is here (a few
 * photos of each person, in sub-folders), else resized copies of face-api's demo photos
 * (each a different file content).
 */
export async function makeAlbum(dir: string, n: number): Promise<AlbumPhoto[]> {
  const out: AlbumPhoto[] = [];
  if (EVAL_DIR) {
    const peopleDir = path.join(EVAL_DIR, 'people');
    for (const person of readdirSync(peopleDir).sort()) {
      const files = readdirSync(path.join(peopleDir, person)).filter((f) => /\.jpe?g$/i.test(f)).sort();
      if (files.length < 3) continue;
      mkdirSync(path.join(dir, person), { recursive: true });
      for (const f of files.slice(0, 4)) {
        if (out.length >= n) return out;
        const rel = `${person}/${f}`;
        copyFileSync(path.join(peopleDir, person, f), path.join(dir, rel));
        out.push({ rel, person });
      }
    }
    return out;
  }
  for (let i = 0; out.length < n; i++) {
    const sample = `sample${(i % 6) + 1}.jpg`;
    const width = 480 + 40 * Math.floor(i / 6);
    const rel = `demo-${i}.jpg`;
    await sharp(demoPhoto(sample)).resize(width).jpeg({ quality: 90 }).toFile(path.join(dir, rel));
    out.push({ rel, person: sample });
  }
  return out;
}
