/**
 * Frame times while the results grid scrolls: the page scrolls itself at a steady speed in
 * requestAnimationFrame and records the deltas between frames (a figure to read, not a test:
 * headless software rendering on a shared machine is noisy).
 */
import type { Page } from 'playwright-core';

export interface FrameStats {
  frames: number;
  p50: number;
  p95: number;
  max: number;
  /** Frames longer than 2 vsyncs at 60 Hz. */
  long: number;
  distance: number;
  summary: string;
}

export async function measureScroll(page: Page, durationMs: number, pxPerSecond = 3000): Promise<FrameStats> {
  const { deltas, distance } = await page.evaluate(
    ({ durationMs, pxPerSecond }) =>
      new Promise<{ deltas: number[]; distance: number }>((resolve) => {
        const el = document.querySelector<HTMLElement>('.grid')!;
        el.scrollTop = 0;
        const deltas: number[] = [];
        let start = 0;
        let last = 0;
        let direction = 1;
        let pos = 0;
        let distance = 0;
        const step = (t: number): void => {
          if (!start) start = last = t;
          else {
            const dt = t - last;
            deltas.push(dt);
            last = t;
            const max = el.scrollHeight - el.clientHeight;
            pos += direction * (pxPerSecond * dt) / 1000;
            if (pos >= max) {
              pos = max;
              direction = -1;
            } else if (pos <= 0) {
              pos = 0;
              direction = 1;
            }
            distance += (pxPerSecond * dt) / 1000;
            el.scrollTop = pos;
          }
          if (t - start < durationMs) requestAnimationFrame(step);
          else resolve({ deltas, distance });
        };
        requestAnimationFrame(step);
      }),
    { durationMs, pxPerSecond },
  );
  const sorted = [...deltas].sort((a, b) => a - b);
  const q = (f: number): number => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? 0;
  const stats = { frames: deltas.length, p50: q(0.5), p95: q(0.95), max: sorted.at(-1) ?? 0, long: deltas.filter((d) => d > 34).length, distance };
  return {
    ...stats,
    summary: `${stats.frames} frames over ${(distance / 1000).toFixed(1)}k px: p50 ${stats.p50.toFixed(1)} ms, p95 ${stats.p95.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms, ${stats.long} over 34 ms`,
  };
}

/** Milliseconds from posting a message to the page until the frame after it has painted. */
export async function timeToPaint(page: Page, message: unknown): Promise<number> {
  return page.evaluate(async (m) => {
    const t0 = performance.now();
    window.postMessage(m, '*');
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return performance.now() - t0;
  }, message);
}
