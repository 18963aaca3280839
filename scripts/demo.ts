/**
 * `npm run demo [-- <album folder>] [-- --port=N]`: builds and packages Glimpse, starts a real
 * VS Code (code-server, installed into .cache on first use) on 127.0.0.1 with the VSIX installed,
 * opens the album, prints the URL to open in a browser, and runs until Ctrl+C, which stops
 * everything it started.
 *
 * Without an album it assembles a small one in .cache/demo-album from photos npm packages ship
 * (face-api's six group photos and portraits cut from them); nothing is downloaded but the npm
 * packages themselves.
 *
 * Run with: node scripts/run-ts.mjs scripts/demo.ts [album] [--port=N]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeDemoAlbum } from '../test/vscode/albums';
import { ensureCodeServer, startCodeServer } from '../test/vscode/code-server';

// Bundled into out/run/ by run-ts.mjs: the repository is two levels up.
const repoRoot = path.resolve(__dirname, '..', '..');
// The code-server helpers find their cache from their own location (wrong in this bundle) unless told.
process.env.GLIMPSE_CACHE ??= path.join(repoRoot, '.cache');

function log(message: string): void {
  process.stdout.write(`[demo] ${message}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const portArg = args.find((a) => a.startsWith('--port='));
  const port = portArg ? Number(portArg.slice('--port='.length)) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`not a port: ${portArg}`);
  const albumArg = args.find((a) => !a.startsWith('--'));

  let album: string;
  if (albumArg) {
    album = path.resolve(albumArg);
    if (!fs.existsSync(album) || !fs.statSync(album).isDirectory()) throw new Error(`not a folder: ${album}`);
  } else {
    album = path.join(process.env.GLIMPSE_CACHE!, 'demo-album');
    if (!fs.existsSync(path.join(album, 'groups'))) {
      const n = await makeDemoAlbum(repoRoot, album);
      log(`made a sample album of ${n} photos in ${path.relative(process.cwd(), album) || album} from face-api's demo photos`);
    }
  }

  log('building and packaging (node scripts/package.mjs)');
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = path.join(process.env.GLIMPSE_CACHE!, 'demo', `${manifest.name}-${manifest.version}.vsix`);
  fs.mkdirSync(path.dirname(vsix), { recursive: true });
  const packaged = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'package.mjs'), `--out=${vsix}`], { cwd: repoRoot, stdio: 'inherit' });
  if (packaged.status !== 0) throw new Error('packaging failed');

  log('starting code-server (the first run installs it into .cache: about a minute)');
  await ensureCodeServer();
  const server = await startCodeServer({ folder: album, vsix, port });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping code-server`);
    await server.stop();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));

  log(`album: ${album}`);
  log(`code-server log: ${server.logFile}`);
  process.stdout.write(`\n  Glimpse is running in VS Code at\n\n    ${server.url}\n\n  Open it in a browser on this machine; right-click a photo in the Explorer and choose\n  "Find Similar Faces". Ctrl+C stops it.\n\n`);
  // Keep running until a signal; code-server runs in its own process group.
  setInterval(() => undefined, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`[demo] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
