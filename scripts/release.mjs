// Writes dist/release/: each single binary compressed with xz, named by version and target, and a SHA256SUMS to check them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = `${ROOT}dist/`;
const OUT = `${DIST}release/`;
const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));

/** What scripts/build-sea.mjs makes, by release target name. */
const BINARIES = { 'linux-x64': 'ptybridge', 'linux-arm64': 'ptybridge-linux-arm64' };

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const sums = [];
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
for (const [target, file] of Object.entries(BINARIES)) {
  const name = `ptybridge-${version}-${target}.xz`;
  // xz's own format carries a CRC of the content, so a damaged download also fails `xz -d`;
  // -T0 uses every core, and the result does not depend on how many there were.
  const packed = execFileSync('xz', ['-T0', '-6', '--stdout', `${DIST}${file}`], { maxBuffer: 1 << 30 });
  writeFileSync(`${OUT}${name}`, packed);
  sums.push(`${createHash('sha256').update(packed).digest('hex')}  ${name}\n`);
  process.stdout.write(`${name}: ${mib(statSync(`${DIST}${file}`).size)} -> ${mib(packed.length)}\n`);
}
writeFileSync(`${OUT}SHA256SUMS`, sums.join(''));
process.stdout.write(`wrote ${OUT}SHA256SUMS\n`);
