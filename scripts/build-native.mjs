// Compiles ptybridge's own native addon (native/malloc-trim.c) for one CPU: dist/native/malloc-trim-linux-ARCH.node.
// Run: node scripts/build-native.mjs [x64|arm64]    (bundle.mjs builds this machine's; build-sea.mjs every target's)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The C compiler that makes code for `arch` on this (x64 or arm64) machine. */
function compilerFor(arch) {
  if (arch === process.arch) return process.env.CC || 'cc';
  return `${{ x64: 'x86_64', arm64: 'aarch64' }[arch]}-linux-gnu-gcc`;
}

/** Builds the addon for `arch` and returns its path; throws with the compiler's words if it cannot. */
export function buildNative(arch = process.arch) {
  const out = `${ROOT}dist/native/malloc-trim-linux-${arch}.node`;
  mkdirSync(`${ROOT}dist/native`, { recursive: true });
  const cc = compilerFor(arch);
  try {
    // -nostdlib: napi_* and malloc_trim are left for the node executable that loads it (and its
    // libc) to resolve, so a cross compiler needs no libc of the other CPU.
    execFileSync(cc, ['-O2', '-shared', '-fPIC', '-nostdlib', '-fvisibility=hidden', '-Wall', '-Werror', '-s', '-o', out, `${ROOT}native/malloc-trim.c`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const why = err.code === 'ENOENT' ? `${cc} not found` : `${cc} failed: ${String(err.stderr ?? err.message).trim()}`;
    throw new Error(`build-native: cannot build ${out}: ${why}`);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(buildNative(process.argv[2]));
