/**
 * Photo albums for the end-to-end tests and `npm run demo`, assembled from photos already on the
 * machine: the labelled set ../shared/eval when it is there, and face-api's demo photos
 * (node_modules/@vladmandic/face-api/demo, installed with the devDependencies) otherwise.
 * Nothing is downloaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

/** A person of an album: every photo they are in, and the one a test searches from. */
export interface AlbumPerson {
  name: string;
  /** The photo searched from (relative to the album). */
  query: string;
  /** Every photo this person is in, the query included (relative to the album). */
  photos: string[];
}

export interface TestAlbum {
  root: string;
  /** Where the photos come from: "eval" (../shared/eval) or "face-api" (its demo photos). */
  source: 'eval' | 'face-api';
  /** Searched from the Explorer context menu; in a sub-folder. */
  first: AlbumPerson;
  /** Searched from the command palette on the open image. */
  second: AlbumPerson;
  /** Searched from the command palette through the open dialog. */
  third: AlbumPerson;
  /** Every file of the album, relative. */
  files: string[];
}

interface DemoFaces {
  files: Record<string, { width: number; height: number; faces: { box: [number, number, number, number]; score: number }[] }>;
}

export function faceApiDemoDir(repoRoot: string): string {
  return path.join(repoRoot, 'node_modules', '@vladmandic', 'face-api', 'demo');
}

/** Face boxes of face-api's demo photos (the gallery tests' fixture, made by the CLI). */
function demoFaces(repoRoot: string): DemoFaces['files'] {
  return (JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'webview', 'fixtures', 'demo-faces.json'), 'utf8')) as DemoFaces).files;
}

/**
 * A portrait cut from a group photo around one face: `scale` times the face's size, shifted
 * sideways by `shift` face widths, resized to `width` px, optionally mirrored. Each cut is a
 * different file of the same person.
 */
async function portrait(
  src: string,
  photo: { width: number; height: number },
  box: readonly number[],
  out: string,
  options: { scale: number; shift?: number; width?: number; mirror?: boolean },
): Promise<void> {
  const [x, y, w, h] = box;
  const cw = Math.min(photo.width, Math.round(w * options.scale));
  const ch = Math.min(photo.height, Math.round(h * options.scale * 1.1));
  const clamp = (v: number, hi: number): number => Math.max(0, Math.min(hi, Math.round(v)));
  const left = clamp(x + w / 2 - cw / 2 + (options.shift ?? 0) * w, photo.width - cw);
  const top = clamp(y + h / 2 - ch / 2, photo.height - ch);
  let image = sharp(src).extract({ left, top, width: cw, height: ch }).resize({ width: options.width ?? 360 });
  if (options.mirror) image = image.flop();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await image.jpeg({ quality: 88 }).toFile(out);
}

function copy(from: string, root: string, rel: string): string {
  const to = path.join(root, rel);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  return rel;
}

/** Files of `root`, relative, sorted. */
function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/**
 * The album the end-to-end tests search: a few people with several photos each in sub-folders,
 * plus group photos. From ../shared/eval when `evalDir` is given: human_vlado (3 photos, and the
 * group photo party.jpg he is in), Gordon Brown, Kim Clijsters and Lleyton Hewitt (4 each), a
 * group of strangers. Otherwise from face-api's six group photos: portraits cut around three
 * faces (3 each, mirrored and at other scales), and the group photos themselves.
 * Photo names are unique across folders so that results can be told apart by name.
 */
export async function makeTestAlbum(repoRoot: string, root: string, evalDir?: string): Promise<TestAlbum> {
  fs.mkdirSync(root, { recursive: true });
  // Not a photo: the Explorer shows it, the index skips it.
  fs.writeFileSync(path.join(root, 'notes.txt'), 'Not a photo.\n');
  if (evalDir) {
    const person = (name: string, dir: string, n: number, extra: string[] = []): AlbumPerson => {
      const photos = [];
      for (let i = 1; i <= n; i++) photos.push(copy(path.join(evalDir, 'people', dir, `${i}.jpg`), root, `${name}/${name}-${i}.jpg`));
      return { name, query: photos[0], photos: [...photos, ...extra] };
    };
    // groups/labels.json: human_group-4.jpg shows human_vlado (among others).
    const party = copy(path.join(evalDir, 'groups', 'human_group-4.jpg'), root, 'party.jpg');
    const first = person('vlado', 'human_vlado', 3, [party]);
    const second = person('Gordon_Brown', 'Gordon_Brown', 4);
    const third = person('Kim_Clijsters', 'Kim_Clijsters', 4);
    person('Lleyton_Hewitt', 'Lleyton_Hewitt', 4);
    copy(path.join(evalDir, 'groups', 'compreface_014_5.jpg'), root, 'team.jpg');
    return { root, source: 'eval', first, second, third, files: listFiles(root) };
  }

  const demo = faceApiDemoDir(repoRoot);
  const faces = demoFaces(repoRoot);
  for (let i = 1; i <= 6; i++) copy(path.join(demo, `sample${i}.jpg`), root, `sample${i}.jpg`);
  const cuts = [
    { scale: 1.6 },
    { scale: 2.4, shift: 0.1, width: 300 },
    { scale: 3.2, shift: -0.1, width: 420, mirror: true },
  ];
  const person = async (name: string, sample: string, face: number): Promise<AlbumPerson> => {
    const photo = faces[sample];
    const photos: string[] = [];
    for (const [k, cut] of cuts.entries()) {
      const rel = `${name}/${name}-${k + 1}.jpg`;
      await portrait(path.join(demo, sample), photo, photo.faces[face].box, path.join(root, rel), cut);
      photos.push(rel);
    }
    return { name, query: photos[0], photos: [...photos, sample] };
  };
  const first = await person('ava', 'sample1.jpg', 0);
  const second = await person('bea', 'sample6.jpg', 0);
  const third = await person('cleo', 'sample4.jpg', 0);
  return { root, source: 'face-api', first, second, third, files: listFiles(root) };
}

/**
 * The album `npm run demo` opens when given none: face-api's six group photos in groups/, and a
 * portrait of every clear face in them in people/ (two cuts of each: one close, one wider and
 * mirrored), so that a portrait finds the group photo it came from and the other way round.
 */
export async function makeDemoAlbum(repoRoot: string, root: string): Promise<number> {
  const demo = faceApiDemoDir(repoRoot);
  if (!fs.existsSync(path.join(demo, 'sample1.jpg'))) {
    throw new Error(`${demo} is missing: run npm ci (face-api is a devDependency)`);
  }
  const faces = demoFaces(repoRoot);
  fs.rmSync(root, { recursive: true, force: true });
  let n = 0;
  for (let i = 1; i <= 6; i++) {
    const sample = `sample${i}.jpg`;
    copy(path.join(demo, sample), root, `groups/party-${i}.jpg`);
    n++;
    const photo = faces[sample];
    for (const [k, face] of photo.faces.entries()) {
      if (face.score < 0.9 || face.box[2] < 100) continue;
      const base = path.join(root, 'people', `party-${i}-face-${k + 1}`);
      await portrait(path.join(demo, sample), photo, face.box, `${base}-close.jpg`, { scale: 1.8 });
      await portrait(path.join(demo, sample), photo, face.box, `${base}-wide.jpg`, { scale: 3, shift: 0.15, width: 480, mirror: true });
      n += 2;
    }
  }
  return n;
}
