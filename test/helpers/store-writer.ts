/**
 * A process writing the shared face store as fast as it can (spawned by test/store.test.ts):
 *   node store-writer.js <store dir> <id> <records> [gc]
 * Each record is a path under /glimpse-writer-<id>/ and the faces of its content, in the order
 * AlbumIndex writes them (path, then faces). With `gc`, it collects garbage every 10 records, as
 * a window finishing a scan does. Prints {id, written, startMs, endMs}.
 */
import { createHash } from 'node:crypto';
import { FaceStore, packFaces } from '../../src/engine/index/store';

async function main(): Promise<void> {
  const [dir, id, n, gc] = process.argv.slice(2);
  const store = await FaceStore.open(dir, (m) => process.stderr.write(`${m}\n`));
  const face = { box: [1, 2, 3, 4] as [number, number, number, number], score: 0.9, landmarks: Array.from({ length: 5 }, (_, k) => [k, k] as [number, number]), embedding: new Float32Array(192).fill(0.07) };
  const startMs = Date.now();
  let written = 0;
  for (let i = 0; i < Number(n); i++) {
    const hash = createHash('sha256').update(`${id}-${i}`).digest('hex');
    await store.setFile(`/glimpse-writer-${id}/photo-${i}.jpg`, { size: 1000 + i, mtimeMs: i, hash });
    await store.setFaces(hash, packFaces('test-system', 640, 480, [face]));
    written++;
    if (gc && i % 10 === 0) await store.collectGarbage();
  }
  const endMs = Date.now();
  await store.close();
  process.stdout.write(JSON.stringify({ id, written, startMs, endMs }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
