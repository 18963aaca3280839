/**
 * One writer per face cache: two VS Code windows on the same folder (or a window and the CLI)
 * share the cache file; the one holding the lock indexes, the others read. The lock is a file
 * holding the owner's pid, created exclusively; a lock whose owner is gone is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

export interface Lock {
  file: string;
  release(): void;
}

/** Whether a process with this pid runs on this machine (EPERM: it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock of `dir`, or undefined when another live process holds it. */
export function tryLock(dir: string): Lock | undefined {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'index.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try {
          const owner = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
          if (owner.pid === process.pid) rmSync(file, { force: true });
        } catch {
          /* already gone */
        }
      };
      process.on('exit', release);
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner: { pid?: number; host?: string } = {};
      try {
        owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner;
      } catch {
        /* half-written or garbage: treat as stale */
      }
      const stale = !owner.pid || (owner.host === hostname() && !processAlive(owner.pid));
      if (!stale) return undefined;
      rmSync(file, { force: true });
    }
  }
  return undefined;
}

/** Waits for the lock, telling `waiting` once that another process holds it. */
export async function acquireLock(dir: string, waiting?: () => void, signal?: AbortSignal): Promise<Lock | undefined> {
  let told = false;
  for (;;) {
    const lock = tryLock(dir);
    if (lock) return lock;
    if (!told) {
      told = true;
      waiting?.();
    }
    if (signal?.aborted) return undefined;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
