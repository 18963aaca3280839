/**
 * Where tests find real photos. The labelled set ../shared/eval is there in CI and on the
 * developers' machines, not on a user's fresh clone: tests that need it skip with a message.
 * face-api's demo photos come from the npm registry with the devDependencies, so every clone has them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** GLIMPSE_EVAL_DIR, else shared/eval beside the checkout or beside one of its parent folders. */
function findEvalDir(): string | undefined {
  if (process.env.GLIMPSE_EVAL_DIR) return existsSync(path.join(process.env.GLIMPSE_EVAL_DIR, 'manifest.json')) ? process.env.GLIMPSE_EVAL_DIR : undefined;
  for (let dir = path.dirname(ROOT); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'eval');
    if (existsSync(path.join(candidate, 'manifest.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The labelled evaluation set, or undefined when this machine lacks it. */
export const EVAL_DIR: string | undefined = findEvalDir();

export function evalPhoto(rel: string): string {
  if (!EVAL_DIR) throw new Error('no eval set');
  return path.join(EVAL_DIR, rel);
}

/** Skips the calling suite when the labelled set is missing, saying why. */
export function requireEvalSet(ctx: Mocha.Context): void {
  if (!EVAL_DIR) {
    console.log(`    (skipped: the labelled photos of ../shared/eval are not on this machine; set GLIMPSE_EVAL_DIR to run these)`);
    ctx.skip();
  }
}

export const DEMO_DIR = path.join(ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo');

export function demoPhoto(name: string): string {
  return path.join(DEMO_DIR, name);
}
