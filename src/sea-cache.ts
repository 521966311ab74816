// The single binary's native addons: SEA assets written once to a per-user cache, verified by hash, then dlopen'ed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The part of `node:sea` we use (Node ≥ 20.12; absent or false outside a single binary). */
interface SeaApi {
  isSea(): boolean;
  getRawAsset(key: string): ArrayBuffer;
}

let sea: SeaApi | null | undefined;

/** The `node:sea` module when this process is the single binary, else undefined. */
function seaApi(): SeaApi | undefined {
  if (sea === undefined) {
    try {
      // getBuiltinModule, not import: node:sea does not exist on every Node this code runs on.
      const mod = process.getBuiltinModule?.('node:sea') as Partial<SeaApi> | undefined;
      sea = mod?.isSea?.() ? (mod as SeaApi) : null;
    } catch {
      sea = null;
    }
  }
  return sea ?? undefined;
}

/** True when running as the single binary (a Node SEA). */
export function inSea(): boolean {
  return seaApi() !== undefined;
}

/** `$XDG_CACHE_HOME/ptybridge`, or `~/.cache/ptybridge` (XDG base directory spec). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'ptybridge');
}

/**
 * node:crypto, loaded on first use: every start imports this module (native.ts), but only the
 * single binary opening a pty, exec or serial endpoint hashes anything (~7 ms of a start).
 */
const crypto = () => process.getBuiltinModule('node:crypto') as typeof import('node:crypto');

/** Lowercase hex SHA-256. */
function sha256(bytes: Uint8Array): string {
  return crypto().createHash('sha256').update(bytes).digest('hex');
}

/**
 * Creates the cache directory private to this user (0700). Code we dlopen comes from here,
 * so a directory another user could write to is refused rather than used.
 */
function ensurePrivateDir(dir: string): void {
  makeDirs(dir);
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

/**
 * mkdir -p with mode 0700. Not fs.mkdirSync's `recursive`, which spins forever on some
 * paths it cannot create (under /proc, Node 20 and 24).
 */
function makeDirs(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    makeDirs(parent);
    fs.mkdirSync(dir, { mode: 0o700 });
  }
}

/** True when `file` is a regular file whose content hashes to `hash`. */
function isIntact(file: string, hash: string): boolean {
  try {
    if (!fs.lstatSync(file).isFile()) return false;
    return sha256(fs.readFileSync(file)) === hash;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Writes through a temporary name and renames, so no reader ever sees half a file. */
function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto().randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes, { mode: 0o700, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Drops temporaries that a process killed mid-write left behind (older than ten minutes). */
function removeStaleTemporaries(dir: string): void {
  const before = Date.now() - 10 * 60_000;
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
    try {
      if (fs.lstatSync(path.join(dir, name)).mtimeMs < before) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // Another process removed or renamed it meanwhile: nothing to clean.
    }
  }
}

/**
 * Places `bytes` in `dir` under a name that carries their hash, rewriting a missing or
 * corrupted copy; returns the path, checked to hold exactly `bytes`.
 */
export function materialize(dir: string, name: string, bytes: Uint8Array): string {
  const hash = sha256(bytes);
  const ext = path.extname(name);
  const file = path.join(dir, `${path.basename(name, ext)}-${hash.slice(0, 16)}${ext}`);
  ensurePrivateDir(dir);
  if (isIntact(file, hash)) return file;
  removeStaleTemporaries(dir);
  writeAtomically(file, bytes);
  if (!isIntact(file, hash)) throw new Error(`${file} does not hold what was just written to it`);
  return file;
}

const loaded = new Map<string, unknown>();

/**
 * The exports of the native addon carried as SEA asset `name` (e.g. "pty.node"): written
 * to the cache on first use, verified by SHA-256 on every start, loaded with process.dlopen.
 */
export function seaAddon(name: string): unknown {
  const hit = loaded.get(name);
  if (hit !== undefined) return hit;
  const api = seaApi();
  if (!api) throw new Error(`native addon ${name} is only carried by the single binary`);
  const dir = cacheDir();
  let file: string;
  try {
    file = materialize(dir, name, new Uint8Array(api.getRawAsset(name)));
  } catch (err) {
    throw new Error(`cannot place native addon ${name} in ${dir} (set XDG_CACHE_HOME to a writable directory): ${(err as Error).message}`, { cause: err });
  }
  const exports = dlopenAddon(file);
  loaded.set(name, exports);
  return exports;
}

/** The exports of the native addon in `file`. */
export function dlopenAddon(file: string): unknown {
  const mod = { exports: {} as unknown };
  process.dlopen(mod, file);
  return mod.exports;
}

/** The single binary's second script: packages only some routes use (scripts/bundle.mjs, SEA_EXTRAS), by name. */
let extras: Record<string, () => unknown> | undefined;

/**
 * A package the single binary carries outside its main script (ws, yaml, the web page, the
 * screen model…), loaded when a route first uses it: V8 loads a script in time that grows
 * with its size, and these were a third of the main script that every start, even
 * `--version`, loaded. The script is compiled with the code cache made at build time when
 * V8 accepts it (the same V8 and flags), else from source.
 */
export function seaExtra(name: string): unknown {
  if (!extras) {
    const api = process.getBuiltinModule('node:sea') as SeaApi & { getAsset(key: string, encoding: string): string };
    const vm = process.getBuiltinModule('node:vm') as typeof import('node:vm');
    let cachedData: Buffer | undefined;
    try {
      cachedData = Buffer.from(api.getRawAsset('extras.cache'));
    } catch {
      cachedData = undefined; // built without a code cache (arm64 is made on x64)
    }
    const run = vm.compileFunction(api.getAsset('extras.cjs', 'utf8'), ['exports', 'require', 'module'], { filename: 'ptybridge-sea-extras.cjs', cachedData });
    const module = { exports: {} as Record<string, () => unknown> };
    run(module.exports, require, module);
    extras = module.exports;
  }
  const load = extras[name];
  if (!load) throw new Error(`the single binary carries no ${name}`);
  return load();
}
