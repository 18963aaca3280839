import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { albumLockName, ownerAlive, processStart, tryLock } from '../src/engine/index/lock';

const HAS_PROC = processStart(process.pid) !== undefined;

/** Writes a lock file the way a crashed or older owner left it (complete, by rename). */
function plantLock(file: string, owner: object): void {
  writeFileSync(`${file}.plant`, JSON.stringify(owner));
  renameSync(`${file}.plant`, file);
}

describe('index lock', function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'glimpse-lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes over a lock naming a live pid with another start time (a reused pid), and waits on a live owner', async function () {
    if (!HAS_PROC) {
      console.log('    (no /proc here: a reused pid cannot be told from its owner; only the dead-pid case is tested)');
      this.skip();
    }
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => sleeper.once('spawn', r));
      const pid = sleeper.pid!;
      const start = processStart(pid)!;
      const file = path.join(dir, 'index.lock');
      plantLock(file, { pid, start, host: hostname(), since: new Date().toISOString() });
      assert.equal(tryLock(dir), undefined, 'the owner runs: the lock is held');
      assert.ok(ownerAlive({ pid, start, host: hostname() }));
      plantLock(file, { pid, start: String(Number(start) - 1), host: hostname(), since: new Date().toISOString() });
      const taken = tryLock(dir);
      assert.ok(taken, 'the pid runs another process than the one that took the lock');
      taken.release();
      assert.ok(!existsSync(file));
    } finally {
      sleeper.kill();
    }
  });

  it('names one lock per album and model, whatever the order of its roots', () => {
    assert.equal(albumLockName(['/a', '/b'], 's1'), albumLockName(['/b/', '/a'], 's1'));
    assert.notEqual(albumLockName(['/a'], 's1'), albumLockName(['/a', '/b'], 's1'));
    assert.notEqual(albumLockName(['/a'], 's1'), albumLockName(['/a'], 's2'));
  });

  it('never has two holders: 4 processes x 30 rounds racing for a free, a dead owner\'s and a reused pid\'s lock', async function () {
    this.timeout(120_000);
    const racer = path.join(__dirname, 'helpers', 'lock-racer.js');
    const children: ChildProcess[] = Array.from({ length: 4 }, () => fork(racer, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const ask = <T>(c: ChildProcess, m: object) =>
      new Promise<T>((resolve, reject) => {
        c.once('message', (r) => {
          c.off('error', reject);
          resolve(r as T);
        });
        c.once('error', reject);
        c.send(m);
      });
    try {
      const dead = 2 ** 22 + 4321;
      const file = path.join(dir, 'race.lock');
      const kinds = { free: 0, dead: 0, reused: 0 };
      for (let round = 0; round < 30; round++) {
        const kind = (['free', 'dead', 'reused'] as const)[round % 3];
        kinds[kind]++;
        if (kind === 'dead') plantLock(file, { pid: dead, host: hostname(), since: 'then' });
        // This test process is alive, but not the process that took this lock.
        if (kind === 'reused') plantLock(file, { pid: process.pid, start: HAS_PROC ? '1' : undefined, host: hostname(), since: 'then' });
        if (kind === 'reused' && !HAS_PROC) {
          rmSync(file); // cannot be told apart without /proc: race for a free lock instead
        }
        const go = Date.now() + 80;
        const replies = await Promise.all(children.map((c) => ask<{ got: boolean; error?: string }>(c, { go, dir, name: 'race', tryMs: 30 })));
        assert.deepEqual(replies.filter((r) => r.error), [], 'no racer failed');
        const holders = replies.filter((r) => r.got).length;
        assert.equal(holders, 1, `round ${round} (${kind}): ${holders} holders at once`);
        await Promise.all(children.map((c, i) => (replies[i].got ? ask(c, { release: true }) : undefined)));
        assert.ok(!existsSync(file), 'released');
      }
      // Temporary and breaker files never outlive their call.
      assert.deepEqual(readdirSync(dir), []);
      console.log(`      30 rounds (${kinds.free} free, ${kinds.dead} dead owner, ${kinds.reused} reused pid${HAS_PROC ? '' : ' (as free: no /proc)'}): one holder each`);
    } finally {
      for (const c of children) c.kill();
    }
  });
});
