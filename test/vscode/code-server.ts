/**
 * A real VS Code (code-server: VS Code server + web workbench) for end-to-end
 * tests on machines that cannot download VS Code or Electron. Its extension
 * host is a plain Node process, so the extension's native modules (sharp,
 * onnxruntime-node, sqlite3) load as they would on the desktop.
 *
 * code-server is installed from the npm registry into a cache folder, never
 * into the project's node_modules: it is 300 MB and builds native modules.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { processAlive } from '../../src/engine/index/lock';

export const CODE_SERVER_VERSION = '4.100.3';

/**
 * @vscode/ripgrep 1.15.11 (a code-server dependency) downloads ripgrep from
 * GitHub in its postinstall unless this tarball is already in its cache under
 * os.tmpdir(). We seed it with Debian's rg, which is the same major version.
 */
const RIPGREP_CACHE_DIR = 'vscode-ripgrep-cache-1.15.11';
const RIPGREP_TARBALL = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
const SYSTEM_RG = '/usr/bin/rg';

const MARKER_FILE = '.glimpse-installed.json';

/** The repository root, as seen from out/test/vscode/. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

export function cacheRoot(): string {
  return path.resolve(process.env.GLIMPSE_CACHE ?? path.join(REPO_ROOT, '.cache'));
}

export function codeServerInstallDir(): string {
  return path.join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}`);
}

function log(message: string): void {
  process.stderr.write(`[code-server] ${message}\n`);
}

interface InstallMarker {
  version: string;
  /** Native modules are built for one Node ABI: another major Node means reinstalling. */
  nodeMajor: number;
  installedAt: string;
  seconds: number;
}

function nodeMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}

function readMarker(dir: string): InstallMarker | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER_FILE), 'utf8')) as InstallMarker;
  } catch {
    return undefined;
  }
}

function packageDir(installDir: string): string {
  return path.join(installDir, 'node_modules', 'code-server');
}

function entryScript(installDir: string): string {
  return path.join(packageDir(installDir), 'out', 'node', 'entry.js');
}

function isInstalled(installDir: string): boolean {
  const marker = readMarker(installDir);
  return (
    marker !== undefined &&
    marker.version === CODE_SERVER_VERSION &&
    marker.nodeMajor === nodeMajor() &&
    fs.existsSync(entryScript(installDir))
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Two test processes may start at once on a cold cache; the second waits for
 * the first instead of running npm into the same folder. A lock left by a
 * dead process is taken over.
 */
async function withInstallLock<T>(installDir: string, fn: () => Promise<T>): Promise<T> {
  const lockDir = `${installDir}.lock`;
  const ownerFile = path.join(lockDir, 'pid');
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(ownerFile, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(ownerFile, { encoding: 'utf8', flag: 'a+' }) || NaN);
      if (Number.isFinite(owner) && !processAlive(owner)) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the install lock ${lockDir}`);
      if (!announced) {
        log(`waiting for another process installing code-server (lock ${lockDir})`);
        announced = true;
      }
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function seedRipgrepCache(tmpDir: string): void {
  if (!fs.existsSync(SYSTEM_RG)) {
    throw new Error(
      `${SYSTEM_RG} is missing: install Debian's ripgrep (apt-get install -y ripgrep); ` +
        'code-server would otherwise download ripgrep from GitHub.',
    );
  }
  const dir = path.join(tmpDir, RIPGREP_CACHE_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const result = spawnSync('tar', ['-czf', path.join(dir, RIPGREP_TARBALL), '-C', path.dirname(SYSTEM_RG), 'rg'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`could not make the ripgrep tarball (tar exit ${result.status})`);
}

function runToStderr(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<number> {
  return new Promise((resolve, reject) => {
    // npm's and node-gyp's output goes to our stderr so a slow first run shows progress.
    const child = spawn(command, args, { ...options, stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function install(installDir: string): Promise<void> {
  const started = Date.now();
  log(`installing code-server@${CODE_SERVER_VERSION} into ${installDir} (first run: about 1-3 min, 300 MB)`);
  // A half-finished install leaves node_modules in an unknown state: start over.
  for (const name of ['node_modules', 'package-lock.json', MARKER_FILE, 'tmp']) {
    fs.rmSync(path.join(installDir, name), { recursive: true, force: true });
  }
  fs.mkdirSync(installDir, { recursive: true });
  // Its own package.json keeps npm from climbing to the project's and from
  // touching the project's node_modules or lockfile.
  const manifest = {
    name: 'glimpse-code-server-cache',
    private: true,
    description: 'code-server for Glimpse end-to-end tests; made by test/vscode/code-server.ts',
    dependencies: { 'code-server': CODE_SERVER_VERSION },
    allowScripts: { [`code-server@${CODE_SERVER_VERSION}`]: true, 'argon2@0.31.2': true },
  };
  fs.writeFileSync(path.join(installDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  const tmpDir = path.join(installDir, 'tmp');
  seedRipgrepCache(tmpDir);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // code-server's postinstall refuses to run as root without it.
    npm_config_unsafe_perm: 'true',
    // node-pty's postinstall runs `npx node-gyp`, which would otherwise prompt.
    npm_config_yes: 'true',
    // The nested installs in lib/vscode have no allowScripts of their own; their
    // native modules (node-pty, spdlog, kerberos...) must still build.
    npm_config_strict_allow_scripts: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
    TMPDIR: tmpDir,
  };
  const code = await runToStderr('npm', ['install', '--foreground-scripts', '--no-save'], { cwd: installDir, env });
  if (code !== 0) {
    throw new Error(
      `npm install code-server@${CODE_SERVER_VERSION} failed (exit ${code}); see the output above. ` +
        'Native modules need build tools and libkrb5-dev (apt-get install -y libkrb5-dev).',
    );
  }
  // With the real HOME, even `--version` writes ~/.config/code-server/config.yaml.
  const checkEnv = { ...env, HOME: tmpDir, XDG_CONFIG_HOME: tmpDir, XDG_DATA_HOME: tmpDir, XDG_CACHE_HOME: tmpDir };
  const check = spawnSync(process.execPath, [entryScript(installDir), '--version'], { encoding: 'utf8', env: checkEnv });
  if (check.status !== 0) {
    throw new Error(`code-server installed but does not start: ${check.stderr || check.stdout}`);
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });
  const seconds = Math.round((Date.now() - started) / 1000);
  const marker: InstallMarker = {
    version: CODE_SERVER_VERSION,
    nodeMajor: nodeMajor(),
    installedAt: new Date().toISOString(),
    seconds,
  };
  fs.writeFileSync(path.join(installDir, MARKER_FILE), JSON.stringify(marker, null, 2) + '\n');
  log(`installed in ${seconds} s: code-server ${check.stdout.trim().split('\n').pop() ?? '?'}`);
}

/**
 * Installs code-server into the cache on first use and returns the folder of
 * the code-server package (holding out/node/entry.js).
 */
export async function ensureCodeServer(): Promise<string> {
  const installDir = codeServerInstallDir();
  if (!isInstalled(installDir)) {
    await withInstallLock(installDir, async () => {
      if (!isInstalled(installDir)) await install(installDir);
    });
  }
  return packageDir(installDir);
}

// ---------------------------------------------------------------------------

export interface StartCodeServerOptions {
  /** The folder the workbench opens (the photo album under test). */
  folder: string;
  /** A packaged extension to install into the scratch extensions folder before starting. */
  vsix?: string;
  /**
   * An unpackaged extension folder to load as under development. The server has
   * no flag for it: it is passed to the workbench through the `payload` query
   * parameter of the returned `url`.
   */
  extensionDevelopmentPath?: string;
  /** Extra user settings, written over the defaults below. */
  settings?: Record<string, unknown>;
  /** Sets "workbench.colorTheme", e.g. "Default Light Modern". */
  colorTheme?: string;
  /** A fixed port; a free one is picked otherwise. */
  port?: number;
  /** Extra environment for the server and so for the extension host it starts. */
  env?: NodeJS.ProcessEnv;
  /** Keep the scratch folder (with the server log) after stop(); GLIMPSE_KEEP_SCRATCH=1 does the same. */
  keepScratch?: boolean;
}

export interface RunningCodeServer {
  /** Workbench URL for `folder` (with the development extension's payload when given). */
  url: string;
  /** http://127.0.0.1:PORT/ */
  baseUrl: string;
  port: number;
  /** Scratch folder holding HOME, XDG dirs, TMPDIR, user data, extensions and the server log; removed by stop() unless kept. */
  scratch: string;
  logFile: string;
  pid: number;
  /** Kills the server's whole process group (server, extension host, pty host...). */
  stop(): Promise<void>;
}

const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  // A secondary side bar or chat view opening on its own moves things under the mouse.
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'git.openRepositoryInParentFolders': 'never',
};

/** Servers still running (process group id -> scratch folder to remove, if any), killed when this process exits. */
const liveGroups = new Map<number, string | undefined>();
let exitHooksInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function removeScratch(scratch: string): void {
  try {
    // Killed processes may still be closing files in it for a moment.
    fs.rmSync(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (err) {
    log(`could not remove ${scratch}: ${String(err)}`);
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only sure thing here.
  const killAll = (): void => {
    for (const [pgid, scratch] of liveGroups) {
      killGroup(pgid, 'SIGKILL');
      if (scratch !== undefined) removeScratch(scratch);
    }
    liveGroups.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Re-raise so the process still ends the way the signal asks.
      process.kill(process.pid, signal);
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** The remote URI under which the workbench sees a server-side path. */
export function remoteUri(port: number, absolutePath: string): string {
  return `vscode-remote://127.0.0.1:${port}${encodeURI(path.resolve(absolutePath))}`;
}

/** The workbench URL opening `folder`, with optional development-mode payload entries. */
export function workbenchUrl(baseUrl: string, folder: string, payload: ReadonlyArray<readonly [string, string]> = []): string {
  const url = new URL(baseUrl);
  url.searchParams.set('folder', path.resolve(folder));
  if (payload.length > 0) url.searchParams.set('payload', JSON.stringify(payload));
  return url.toString();
}

function scratchEnv(scratch: string, extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const dirs = {
    HOME: path.join(scratch, 'home'),
    XDG_CONFIG_HOME: path.join(scratch, 'home', '.config'),
    XDG_DATA_HOME: path.join(scratch, 'home', '.local', 'share'),
    XDG_CACHE_HOME: path.join(scratch, 'home', '.cache'),
    TMPDIR: path.join(scratch, 'tmp'),
  };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...dirs,
    // An empty gallery turns the marketplace off: otherwise the workbench
    // queries open-vsx.org for extension metadata, and nothing may go out.
    EXTENSIONS_GALLERY: '{}',
    ...extra,
  };
  // Inherited from a VS Code terminal these would make code-server act as a CLI
  // talking to that other instance instead of starting a server.
  for (const name of Object.keys(env)) {
    if (name.startsWith('VSCODE_') || name === 'ELECTRON_RUN_AS_NODE') delete env[name];
  }
  return env;
}

export async function startCodeServer(options: StartCodeServerOptions): Promise<RunningCodeServer> {
  const codeServerDir = await ensureCodeServer();
  const entry = path.join(codeServerDir, 'out', 'node', 'entry.js');
  const folder = path.resolve(options.folder);
  if (!fs.statSync(folder).isDirectory()) throw new Error(`not a folder: ${folder}`);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpse-code-server-'));
  const env = scratchEnv(scratch, options.env);
  const userDataDir = path.join(scratch, 'user-data');
  const extensionsDir = path.join(scratch, 'extensions');
  const configFile = path.join(scratch, 'config.yaml');
  const logFile = path.join(scratch, 'code-server.log');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });

  const settings: Record<string, unknown> = { ...DEFAULT_SETTINGS, ...options.settings };
  if (options.colorTheme !== undefined) settings['workbench.colorTheme'] = options.colorTheme;
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');

  const port = options.port ?? (await freePort());
  // A config file of our own, or code-server reads and even writes ~/.config/code-server/config.yaml.
  fs.writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const common = ['--config', configFile, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

  if (options.vsix !== undefined) {
    const vsix = path.resolve(options.vsix);
    log(`installing ${path.basename(vsix)}`);
    const result = spawnSync(process.execPath, [entry, ...common, '--install-extension', vsix], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.status !== 0) {
      throw new Error(`installing ${vsix} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
  }

  const args = [
    entry,
    ...common,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    folder,
  ];
  const out = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // detached: the child calls setsid(), so it leads a new process group that
    // also holds the extension host and pty host, and stop() can kill them all.
    child = spawn(process.execPath, args, { cwd: scratch, env, detached: true, stdio: ['ignore', out, out] });
  } finally {
    fs.closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('code-server did not start');
  const keepScratch = options.keepScratch ?? process.env.GLIMPSE_KEEP_SCRATCH === '1';
  installExitHooks();
  liveGroups.set(pid, keepScratch ? undefined : scratch);
  // A test that forgets stop() must not keep mocha alive: the exit hook kills the group.
  child.unref();

  let exited: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exit code ${code}, signal ${signal}`;
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (!liveGroups.has(pid)) return;
    killGroup(pid, 'SIGTERM');
    // A pending timer would hold the test process open after the last test.
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        killGroup(pid, 'SIGKILL');
        resolve();
      }, 5000);
    });
    await Promise.race([exitedPromise, forced]);
    clearTimeout(timer);
    // The server may be gone while its children are still shutting down.
    killGroup(pid, 'SIGKILL');
    liveGroups.delete(pid);
    if (!keepScratch) removeScratch(scratch);
  };

  const baseUrl = `http://127.0.0.1:${port}/`;
  const started = Date.now();
  for (;;) {
    if (exited !== undefined) {
      killGroup(pid, 'SIGKILL');
      liveGroups.delete(pid);
      throw new Error(`code-server ended before listening (${exited}); log ${logFile}:\n${tail(logFile)}`);
    }
    if ((await httpStatus(`${baseUrl}healthz`)) === 200) break;
    if (Date.now() - started > 60_000) {
      const lastLines = tail(logFile);
      await stop();
      throw new Error(`code-server did not listen on ${baseUrl} within 60 s; its log ended with:\n${lastLines}`);
    }
    await sleep(100);
  }
  log(`listening on ${baseUrl} after ${Date.now() - started} ms (pid ${pid}, scratch ${scratch})`);

  const payload: Array<[string, string]> = [];
  if (options.extensionDevelopmentPath !== undefined) {
    payload.push(['extensionDevelopmentPath', remoteUri(port, options.extensionDevelopmentPath)]);
  }
  return { url: workbenchUrl(baseUrl, folder, payload), baseUrl, port, scratch, logFile, pid, stop };
}
