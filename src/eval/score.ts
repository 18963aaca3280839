/**
 * Scores a face dump against a labelled dataset exactly as ../shared/eval/score.py does (same
 * subject choice, same LFW and album-search rules), so `npm run eval` stands alone and its figures
 * mean the same thing. Also calibrates a match threshold on impostor pairs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface DumpFace {
  box: [number, number, number, number];
  embedding: ArrayLike<number>;
}
export interface DumpFile {
  width?: number;
  height?: number;
  faces: DumpFace[];
  error?: string;
}
export interface Dump {
  system: string;
  files: Record<string, DumpFile>;
}

interface ManifestRow {
  file: string;
  identity: string | null;
  kind: 'single' | 'group';
}

interface Photo {
  file: string;
  kind: 'single' | 'group';
  ids: Set<string>;
  complete: boolean;
}

export interface Scores {
  system: string;
  photos: number;
  singles: number;
  groups: number;
  faces: number;
  detect_single: number;
  group_faces: number;
  lfw_acc?: number;
  lfw_pairs?: number;
  'lfw_tar@far1e-3'?: number;
  lfw_failed_pairs?: number;
  lfw_best_threshold?: number;
  queries: number;
  mAP: number;
  'recall@prec0.95': number;
  /** Similarity thresholds at which the given share of cross-identity single-photo pairs is accepted. */
  threshold_far1e3: number;
  threshold_far1e4: number;
  /** Share of same-identity single-photo pairs accepted at threshold_far1e3. */
  tar_at_threshold_far1e3: number;
}

function normalised(e: ArrayLike<number>): Float32Array | undefined {
  const v = Float32Array.from(e);
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  if (n === 0) return undefined;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

function dotv(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

export function scoreDump(datasetDir: string, dump: Dump): Scores {
  const manifest = JSON.parse(readFileSync(path.join(datasetDir, 'manifest.json'), 'utf8')) as ManifestRow[];
  const labelsPath = path.join(datasetDir, 'groups', 'labels.json');
  const labels = existsSync(labelsPath) ? (JSON.parse(readFileSync(labelsPath, 'utf8')) as Record<string, { identities?: string[]; complete?: boolean }>) : {};
  const notesPath = path.join(datasetDir, 'identity_notes.json');
  const notes = existsSync(notesPath) ? ((JSON.parse(readFileSync(notesPath, 'utf8')) as { possible_same_person?: Record<string, string[]> }).possible_same_person ?? {}) : {};
  const alias = new Map<string, Set<string>>();
  const addAlias = (a: string, b: string) => (alias.get(a) ?? alias.set(a, new Set()).get(a)!).add(b);
  for (const [k, vs] of Object.entries(notes)) for (const v of vs) { addAlias(k, v); addAlias(v, k); }

  const photos: Photo[] = manifest.map((m) => {
    if (m.kind === 'single') return { file: m.file, kind: 'single', ids: new Set([m.identity ?? '']), complete: true };
    const lab = labels[path.basename(m.file)] ?? labels[m.file] ?? {};
    return { file: m.file, kind: 'group', ids: new Set(lab.identities ?? []), complete: !!lab.complete };
  });

  const faceVecs: Float32Array[][] = photos.map(() => []);
  const subject = new Map<number, Float32Array>();
  let faceCount = 0;
  photos.forEach((p, pi) => {
    const rec = dump.files[p.file];
    if (!rec) return;
    const cand: { b: number[]; v: Float32Array }[] = [];
    for (const f of rec.faces ?? []) {
      if (!f.embedding) continue;
      const v = normalised(f.embedding);
      if (!v) continue;
      cand.push({ b: f.box ?? [0, 0, 1, 1], v });
      faceVecs[pi].push(v);
      faceCount++;
    }
    if (!cand.length) return;
    const W = rec.width, H = rec.height;
    const amax = Math.max(...cand.map((c) => c.b[2] * c.b[3]));
    let pick: { b: number[]; v: Float32Array };
    if (W && H) {
      const big = cand.filter((c) => c.b[2] * c.b[3] >= 0.3 * amax);
      const d = (c: { b: number[] }) => (c.b[0] + c.b[2] / 2 - W / 2) ** 2 + (c.b[1] + c.b[3] / 2 - H / 2) ** 2;
      pick = big.reduce((a, c) => (d(c) < d(a) ? c : a));
    } else pick = cand.reduce((a, c) => (c.b[2] * c.b[3] > a.b[2] * a.b[3] ? c : a));
    subject.set(pi, pick.v);
  });

  const singles = photos.map((p, i) => (p.kind === 'single' ? i : -1)).filter((i) => i >= 0);
  const groups = photos.map((p, i) => (p.kind === 'group' ? i : -1)).filter((i) => i >= 0);
  const idOf = (i: number) => photos[i].ids.values().next().value as string;

  const res: Scores = {
    system: dump.system,
    photos: photos.length,
    singles: singles.length,
    groups: groups.length,
    faces: faceCount,
    detect_single: round4(singles.filter((i) => subject.has(i)).length / Math.max(1, singles.length)),
    group_faces: groups.reduce((a, g) => a + faceVecs[g].length, 0),
    queries: 0,
    mAP: 0,
    'recall@prec0.95': 0,
    threshold_far1e3: 0,
    threshold_far1e4: 0,
    tar_at_threshold_far1e3: 0,
  };

  const indexOf = new Map(photos.map((p, i) => [p.file, i]));
  const pairsPath = path.join(datasetDir, 'lfw_pairs.json');
  if (existsSync(pairsPath)) {
    const pairs = JSON.parse(readFileSync(pairsPath, 'utf8')) as { fold?: number; a: string; b: string; same: boolean }[];
    const s: number[] = [], y: boolean[] = [], fold: number[] = [];
    for (const p of pairs) {
      const va = subject.get(indexOf.get(p.a) ?? -1), vb = subject.get(indexOf.get(p.b) ?? -1);
      s.push(va && vb ? Math.fround(dotv(va, vb)) : -9);
      y.push(p.same);
      fold.push(p.fold ?? 1);
    }
    const bestThr = (idx: number[]): [number, number] => {
      const cand = [...new Set(idx.map((i) => s[i]))].sort((a, b) => a - b);
      let best: [number, number] = [cand[0], -1];
      for (const t of cand) {
        const acc = idx.filter((i) => (s[i] >= t) === y[i]).length / idx.length;
        if (acc > best[1]) best = [t, acc];
      }
      return best;
    };
    const all = s.map((_, i) => i);
    const folds = [...new Set(fold)].sort((a, b) => a - b);
    if (folds.length > 1) {
      const accs = folds.map((fo) => {
        const [t] = bestThr(all.filter((i) => fold[i] !== fo));
        const te = all.filter((i) => fold[i] === fo);
        return te.filter((i) => (s[i] >= t) === y[i]).length / te.length;
      });
      res.lfw_acc = round4(accs.reduce((a, b) => a + b, 0) / accs.length);
    } else {
      const [t, acc] = bestThr(all);
      res.lfw_acc = round4(acc);
      res.lfw_best_threshold = round4(t);
    }
    res.lfw_pairs = s.length;
    const neg = all.filter((i) => !y[i]).map((i) => s[i]).sort((a, b) => b - a);
    const k = Math.floor(1e-3 * neg.length);
    const thr = k < neg.length ? neg[k] : -9;
    const pos = all.filter((i) => y[i]);
    res['lfw_tar@far1e-3'] = round4(pos.filter((i) => s[i] > thr).length / pos.length);
    res.lfw_failed_pairs = s.filter((x) => x === -9).length;
  }

  // Album search: each single photo of an identity with 2+ photos queries every photo.
  const count = new Map<string, number>();
  for (const i of singles) count.set(idOf(i), (count.get(idOf(i)) ?? 0) + 1);
  const queries = singles.filter((i) => (count.get(idOf(i)) ?? 0) >= 2);
  const aps: number[] = [], recs: number[] = [];
  for (const q of queries) {
    const qid = idOf(q);
    const qv = subject.get(q);
    if (!qv) { aps.push(0); recs.push(0); continue; }
    const rows: { sc: number; rel: boolean; j: number }[] = [];
    const aliases = alias.get(qid);
    for (let j = 0; j < photos.length; j++) {
      if (j === q) continue;
      const rel = photos[j].ids.has(qid);
      if (photos[j].kind === 'group' && !rel && !photos[j].complete) continue;
      if (aliases && [...aliases].some((a) => photos[j].ids.has(a))) continue;
      let sc = -9;
      for (const v of faceVecs[j]) sc = Math.max(sc, Math.fround(dotv(qv, v)));
      rows.push({ sc, rel, j });
    }
    const npos = rows.filter((r) => r.rel).length;
    if (npos === 0) continue;
    rows.sort((a, b) => b.sc - a.sc || a.j - b.j);
    let hits = 0, apSum = 0, best = 0;
    rows.forEach((r, n) => {
      if (r.rel) hits++;
      const prec = hits / (n + 1);
      if (r.rel) apSum += prec;
      if (prec >= 0.95) best = Math.max(best, hits);
    });
    aps.push(apSum / npos);
    recs.push(best / npos);
  }
  res.queries = aps.length;
  res.mAP = round4(aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0);
  res['recall@prec0.95'] = round4(recs.length ? recs.reduce((a, b) => a + b, 0) / recs.length : 0);

  // Threshold calibration on every cross-identity pair of single photos (far more impostor pairs than LFW's 300).
  const imp: number[] = [];
  const gen: number[] = [];
  const subj = singles.filter((i) => subject.has(i));
  for (let a = 0; a < subj.length; a++) {
    for (let b = a + 1; b < subj.length; b++) {
      const ia = subj[a], ib = subj[b];
      const sc = dotv(subject.get(ia)!, subject.get(ib)!);
      const ida = idOf(ia), idb = idOf(ib);
      if (ida === idb) gen.push(sc);
      else if (!alias.get(ida)?.has(idb)) imp.push(sc);
    }
  }
  imp.sort((a, b) => b - a);
  const at = (far: number) => imp[Math.min(imp.length - 1, Math.floor(far * imp.length))] ?? 1;
  res.threshold_far1e3 = round4(at(1e-3));
  res.threshold_far1e4 = round4(at(1e-4));
  res.tar_at_threshold_far1e3 = round4(gen.filter((x) => x > res.threshold_far1e3).length / Math.max(1, gen.length));
  return res;
}
