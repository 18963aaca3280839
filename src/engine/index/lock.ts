/**
 * One writer per album: two VS Code windows on the same album (or a window and the CLI) share the
 * face store; the one holding the album's lock indexes, the others read what it writes.
 *
 * A lock is a file naming its owner (pid, the process's start time, the boot, the host). It is
 * complete before it appears: the owner is written to a temporary file, then link()ed to the
 * lock's name, which fails with EEXIST when a lock is there (a reader never sees a half-written
 * lock, and two processes can never both create it). An owner is gone when its pid does not run,
 * or runs a process started at another time (the pid was reused after a crash or a reboot).
 * A stale lock is removed only by the holder of `<lock>.break` (taken the same way): two
 * processes that both find it stale cannot remove the fresh lock the other has just made.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';

export interface Lock {
  file: string;
  release(): void;
}

export interface LockOwner {
  pid: number;
  /** Start time of the process (clock ticks after boot, /proc/<pid>/stat field 22), where the system says. */
  start?: string;
  /** /proc/sys/kernel/random/boot_id, where the system says. */
  boot?: string;
  host: string;
  since: string;
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

/** When the process `pid` started (clock ticks after boot), or undefined where /proc does not say. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces and parentheses: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 of the whole line
  } catch {
    return undefined;
  }
}

let bootIdCache: string | null | undefined;
function bootId(): string | undefined {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootIdCache = null;
    }
  }
  return bootIdCache ?? undefined;
}

function me(): LockOwner {
  return { pid: process.pid, start: processStart(process.pid), boot: bootId(), host: hostname(), since: new Date().toISOString() };
}

/**
 * Whether the process a lock names still runs: same pid, same start time, same boot. A lock of
 * another host is taken as held (its processes cannot be seen from here).
 */
export function ownerAlive(owner: Partial<LockOwner>): boolean {
  if (typeof owner.pid !== 'number' || !(owner.pid > 0)) return false;
  if (owner.host !== undefined && owner.host !== hostname()) return true;
  const boot = bootId();
  if (owner.boot && boot && owner.boot !== boot) return false;
  if (!processAlive(owner.pid)) return false;
  const start = processStart(owner.pid);
  return !(owner.start && start && owner.start !== start);
}

let tmpCounter = 0;

/** Creates `file` holding `content`, complete, or returns false when it exists. */
function createComplete(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}-${++tmpCounter}.tmp`;
  writeFileSync(tmp, content, { flag: 'wx' });
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The content of a lock file, or undefined when there is none. */
function readLock(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function parseOwner(content: string): Partial<LockOwner> {
  try {
    const o = JSON.parse(content) as unknown;
    return o && typeof o === 'object' ? (o as Partial<LockOwner>) : {};
  } catch {
    return {}; // not written by this code (locks appear complete): no owner
  }
}

/**
 * Removes `file` if it still holds `content`: it is renamed to a name of this process first (atomic),
 * and put back if it turned out to be another one.
 */
function removeIfStill(file: string, content: string): void {
  const mine = `${file}.${process.pid}-${++tmpCounter}.stale`;
  try {
    renameSync(file, mine);
  } catch {
    return; // gone already
  }
  try {
    if (readFileSync(mine, 'utf8') !== content) {
      try {
        linkSync(mine, file);
      } catch {
        /* a new one is there already */
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * Removes the stale lock `file` (holding `stale`) under its breaker lock. False when another
 * process is breaking it at this moment.
 */
function breakStale(file: string, stale: string, owner: string): boolean {
  const breaker = `${file}.break`;
  if (!createComplete(breaker, owner)) {
    const other = readLock(breaker);
    // A breaker holds its lock for a few microseconds; one that died there is removed.
    if (other !== undefined && !ownerAlive(parseOwner(other))) removeIfStill(breaker, other);
    return false;
  }
  try {
    // Another breaker may have replaced the stale lock by its own fresh one since it was read.
    if (readLock(file) === stale) rmSync(file, { force: true });
    return true;
  } finally {
    if (readLock(breaker) === owner) rmSync(breaker, { force: true });
  }
}

/** The lock `name` in `dir` (the file `<dir>/<name>.lock`), or undefined when another live process holds it. */
export function tryLock(dir: string, name = 'index'): Lock | undefined {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.lock`);
  const content = JSON.stringify(me());
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createComplete(file, content)) {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try {
          if (readLock(file) === content) rmSync(file, { force: true });
        } catch {
          /* the folder is gone */
        }
      };
      process.on('exit', release);
      return { file, release };
    }
    const held = readLock(file);
    if (held === undefined) continue; // released meanwhile
    if (ownerAlive(parseOwner(held))) return undefined;
    if (!breakStale(file, held, content)) return undefined;
  }
  return undefined;
}

/** Waits for the lock, telling `waiting` once that another process holds it. */
export async function acquireLock(dir: string, name = 'index', waiting?: () => void, signal?: AbortSignal): Promise<Lock | undefined> {
  let told = false;
  for (;;) {
    const lock = tryLock(dir, name);
    if (lock) return lock;
    if (!told) {
      told = true;
      waiting?.();
    }
    if (signal?.aborted) return undefined;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The lock name of an album: its roots, in any order, and the system (models) that indexes it.
 * Two windows on one album share it (one computes, the other reads); windows on different albums,
 * or on one album with different models, index at once.
 */
export function albumLockName(roots: readonly string[], system: string): string {
  const key = [system, ...roots.map((r) => path.resolve(r)).sort()].join('\0');
  return `album-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}
