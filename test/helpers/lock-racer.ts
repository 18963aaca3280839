/**
 * A process racing for an index lock (forked by test/lock.test.ts). On {go: time, dir, name} it
 * waits until `time`, then tries the lock for `tryMs`; it answers whether it got it, and holds it
 * until told {release: true}.
 */
import { tryLock, type Lock } from '../../src/engine/index/lock';

let held: Lock | undefined;

process.on('message', (m: { go?: number; dir: string; name: string; tryMs: number; release?: boolean }) => {
  if (m.release) {
    held?.release();
    held = undefined;
    process.send!({ released: true });
    return;
  }
  while (Date.now() < m.go!) {
    /* spin: every racer starts within a millisecond of the others */
  }
  const end = Date.now() + m.tryMs;
  let error: string | undefined;
  do {
    try {
      held = tryLock(m.dir, m.name);
    } catch (e) {
      error = (e as Error).message;
      break;
    }
  } while (!held && Date.now() < end);
  process.send!({ got: !!held, error });
});
process.on('disconnect', () => process.exit(0));
