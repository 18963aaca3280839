/** The extension's settings (contributed in package.json under `glimpse.*`). */
import * as vscode from 'vscode';
import type { EmbedderId } from '../engine/embed';
import { defaultThreshold } from '../engine/thresholds';

export interface Settings {
  model: EmbedderId;
  /** Similarity threshold for matches; the model's calibrated value unless set. */
  threshold: number;
  maxFileSizeMB: number;
  include: string[];
  /** glimpse.exclude plus files.exclude and search.exclude patterns that are switched on. */
  exclude: string[];
  indexOnStartup: boolean;
}

function enabledGlobs(section: string, key: string): string[] {
  const v = vscode.workspace.getConfiguration(section).get<Record<string, unknown>>(key) ?? {};
  // Only plain `true` entries: `{ when: ... }` conditions need sibling files, which a glob cannot express.
  return Object.entries(v).filter(([, on]) => on === true).map(([glob]) => glob);
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('glimpse');
  const model: EmbedderId = c.get<string>('model') === 'dlib' ? 'dlib' : 'mobilefacenet';
  const threshold = c.get<number | null>('threshold');
  const size = c.get<number>('maxFileSizeMB') ?? 16;
  return {
    model,
    threshold: typeof threshold === 'number' && threshold > -1 && threshold < 1 ? threshold : defaultThreshold(model),
    maxFileSizeMB: size > 0 ? size : 16,
    include: (c.get<string[]>('include') ?? []).filter((g) => typeof g === 'string' && g.length > 0),
    exclude: [...(c.get<string[]>('exclude') ?? []), ...enabledGlobs('files', 'exclude'), ...enabledGlobs('search', 'exclude')].filter(
      (g) => typeof g === 'string' && g.length > 0,
    ),
    indexOnStartup: c.get<boolean>('indexOnStartup') ?? true,
  };
}
