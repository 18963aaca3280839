/** Debian's chromium, as every browser test here launches it (through playwright-core, which downloads no browser). */

export const CHROMIUM = process.env.GLIMPSE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  // Running as root in a container: chromium's sandbox cannot start.
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // No update checks, component downloads or sync: there is no internet here.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
