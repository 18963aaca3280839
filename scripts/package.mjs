// Builds the bundles for production and packages a platform-specific VSIX.
//   node scripts/package.mjs [--target=linux-x64] [--out=file.vsix] [--no-build]
// The target is also read from GLIMPSE_TARGET; default: this machine's. The VSIX holds the
// native modules of node_modules (sharp, onnxruntime-node, sqlite3) for that target only, so
// node_modules must hold that target's binaries: checked here from the binaries' headers.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const flag = (name) => process.argv.includes(`--${name}`);

/** vsce's target names, and where each one's binaries are in sharp's and onnxruntime-node's packages. */
const TARGETS = {
  'linux-x64': { sharp: 'linux-x64', os: 'linux', arch: 'x64' },
  'linux-arm64': { sharp: 'linux-arm64', os: 'linux', arch: 'arm64' },
  'linux-armhf': { sharp: 'linux-arm', os: 'linux', arch: 'arm' },
  'alpine-x64': { sharp: 'linuxmusl-x64', os: 'linux', arch: 'x64' },
  'alpine-arm64': { sharp: 'linuxmusl-arm64', os: 'linux', arch: 'arm64' },
  'darwin-x64': { sharp: 'darwin-x64', os: 'darwin', arch: 'x64' },
  'darwin-arm64': { sharp: 'darwin-arm64', os: 'darwin', arch: 'arm64' },
  'win32-x64': { sharp: 'win32-x64', os: 'win32', arch: 'x64' },
  'win32-arm64': { sharp: 'win32-arm64', os: 'win32', arch: 'arm64' },
};

function hostTarget() {
  const arch = process.arch === 'arm' ? 'armhf' : process.arch;
  return `${process.platform}-${arch}`;
}

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

/** The OS and CPU a native binary is for, read from its ELF, Mach-O or PE header. */
function binaryTarget(file) {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(4096);
  try {
    readSync(fd, b, 0, b.length, 0);
  } finally {
    closeSync(fd);
  }
  if (b.readUInt32BE(0) === 0x7f454c46) {
    const machine = b.readUInt16LE(18);
    return { os: 'linux', arch: { 0x3e: 'x64', 0xb7: 'arm64', 0x28: 'arm' }[machine] ?? `machine 0x${machine.toString(16)}` };
  }
  if (b.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = b.readUInt32LE(4);
    return { os: 'darwin', arch: { 0x01000007: 'x64', 0x0100000c: 'arm64' }[cpu] ?? `cpu 0x${cpu.toString(16)}` };
  }
  if (b.readUInt32BE(0) === 0xcafebabe) return { os: 'darwin', arch: 'universal' };
  if (b.toString('latin1', 0, 2) === 'MZ') {
    const pe = b.readUInt32LE(0x3c);
    const machine = pe + 6 <= b.length ? b.readUInt16LE(pe + 4) : 0;
    return { os: 'win32', arch: { 0x8664: 'x64', 0xaa64: 'arm64' }[machine] ?? `machine 0x${machine.toString(16)}` };
  }
  return { os: 'unknown', arch: 'unknown' };
}

function checkBinary(what, file, t, advice) {
  if (!existsSync(file)) fail(`${what}: ${path.relative(root, file)} is missing. ${advice}`);
  const found = binaryTarget(file);
  const ok = found.os === t.os && (found.arch === t.arch || (found.os === 'darwin' && found.arch === 'universal'));
  if (!ok) fail(`${what}: ${path.relative(root, file)} is for ${found.os}-${found.arch}, not ${t.os}-${t.arch}. ${advice}`);
}

const target = arg('target') ?? process.env.GLIMPSE_TARGET ?? hostTarget();
const t = TARGETS[target];
if (!t) fail(`unknown target ${target}; one of ${Object.keys(TARGETS).join(', ')}`);
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const out = path.resolve(arg('out') ?? `${manifest.name}-${manifest.version}-${target}.vsix`);

// The binaries of the target must be in node_modules.
const sharpPkg = path.join('node_modules', '@img', `sharp-${t.sharp}`);
const sharpLib = path.join(sharpPkg, 'lib');
const sharpNode = existsSync(sharpLib) ? readdirSync(sharpLib).find((f) => f.endsWith('.node')) : undefined;
checkBinary(
  'sharp',
  path.join(sharpLib, sharpNode ?? `sharp-${t.sharp}.node`),
  t,
  `Install sharp's package for ${target}: npm install --no-save --os=${t.os} --cpu=${t.arch}${target.startsWith('alpine') ? ' --libc=musl' : ''} sharp (see sharp's cross-platform notes).`,
);
const ortBin = path.join('node_modules', 'onnxruntime-node', 'bin');
const napi = existsSync(ortBin) ? readdirSync(ortBin).filter((d) => d.startsWith('napi-v')) : [];
const ortDir = napi.map((d) => path.join(ortBin, d, t.os, t.arch)).find((d) => existsSync(d));
if (!ortDir) fail(`onnxruntime-node has no binaries for ${t.os}/${t.arch} in ${ortBin}: it does not support ${target}.`);
checkBinary('onnxruntime-node', path.join(ortDir, 'onnxruntime_binding.node'), t, 'Reinstall onnxruntime-node.');
checkBinary(
  'sqlite3',
  path.join('node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node'),
  t,
  `sqlite3's addon is built (or fetched) for the machine that ran npm ci: package ${target} on a ${target} machine.`,
);

if (!flag('no-build')) {
  const r = spawnSync(process.execPath, ['esbuild.mjs', '--production'], { stdio: 'inherit' });
  if (r.status !== 0) fail(`node esbuild.mjs --production failed (exit ${r.status})`);
}

// .vscodeignore names the linux-x64 binaries on the lines after "# target": rewrite them.
const ignoreLines = readFileSync('.vscodeignore', 'utf8').split('\n');
const ignore = ignoreLines.map((line, i) =>
  i > 0 && ignoreLines[i - 1].trim() === '# target'
    ? line.replaceAll('@img/sharp-linux-x64/', `@img/sharp-${t.sharp}/`).replaceAll('@img/sharp-libvips-linux-x64/', `@img/sharp-libvips-${t.sharp}/`).replaceAll('/linux/x64/', `/${t.os}/${t.arch}/`)
    : line,
);
const ignoreFile = path.join('.cache', 'package', `vscodeignore-${target}`);
mkdirSync(path.dirname(ignoreFile), { recursive: true });
writeFileSync(ignoreFile, ignore.join('\n'));

const vsce = path.join('node_modules', '@vscode', 'vsce', 'vsce');
const started = Date.now();
// No repository: the project has no public one yet (set "repository" in package.json when it does).
const r = spawnSync(process.execPath, [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--allow-missing-repository', '--out', out], {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
if (r.status !== 0) {
  process.stdout.write(r.stdout ?? '');
  fail(`vsce package failed (exit ${r.status})`);
}
// vsce lists every file; its summary line is enough here (`npx vsce ls --tree` shows the rest).
const summary = (r.stdout ?? '').split('\n').filter((l) => /Packaged:|WARNING/i.test(l));
for (const line of summary) console.log(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
const bytes = statSync(out).size;
console.log(`package: ${path.relative(root, out)} for ${target}: ${(bytes / 1e6).toFixed(1)} MB (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
