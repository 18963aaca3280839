/**
 * Entry of the tests that run inside the extension host (see runExtensionTests in
 * ../browser.ts): VS Code calls run() once Glimpse (the extension under development) is loaded.
 * Runs every *.host.js beside this file with mocha.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export async function run(): Promise<void> {
  // mocha 12 is an ES module, and TypeScript would turn a plain import() into require() here.
  const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<{ default: typeof import('mocha') }>;
  const { default: Mocha } = await importModule(pathToFileURL(require.resolve('mocha')).href);
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 120_000, reporter: 'spec' });
  for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.host.js')).sort()) mocha.addFile(path.join(__dirname, f));
  await mocha.loadFilesAsync();
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} extension-host test(s) failed`);
}
