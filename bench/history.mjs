// ?history (asciicast files) against plain --log (the transcript), side by side: a device writing 1 MiB/s for N minutes, nobody connected.
// Each device keeps its own copy of what it wrote; the recording must hold every byte of it. Both ptybridges run at once, on the same load.
//
//   node bench/history.mjs [--seconds 600] [--rate 1048576] [--ptybridge dist/ptybridge.mjs]
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { treeCpu } from './proc.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    rate: { type: 'string', default: String(1024 * 1024) },
    ptybridge: { type: 'string', default: 'dist/ptybridge.mjs' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const dir = mkdtempSync(join(tmpdir(), 'ptyb-bench-history-'));

// The device: printable UTF-8 text with line ends (1- to 4-byte characters), paced to `rate`,
// written to its pty (raw: no \r added) and to its own copy. It says DONE on stderr-free stdout last.
const writer = join(dir, 'writer.mjs');
writeFileSync(
  writer,
  `
import { createWriteStream } from 'node:fs';
const [copyPath, rate, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const copy = createWriteStream(copyPath);
const alphabet = ['a', 'b', 'c', ' ', '\\n', 'é', '€', '中', '😀', '0', '1', ':'];
const block = () => { const p = []; let n = 0; while (n < 16384) { const s = alphabet[Math.floor(Math.random() * alphabet.length)]; p.push(s); n += Buffer.byteLength(s); } return Buffer.from(p.join('')); };
const tick = 50, perTick = rate * tick / 1000;
let sent = 0; const start = Date.now();
const step = () => {
  const due = Math.min(rate * seconds, Math.floor((Date.now() - start) / 1000 * rate) + perTick);
  const parts = [];
  while (sent < due) { const b = block(); parts.push(b); sent += b.length; }
  const out = Buffer.concat(parts);
  copy.write(out);
  const more = process.stdout.write(out);
  if (sent >= rate * seconds) { copy.end(() => process.stdout.write('\\nEND-OF-RUN\\n', () => setTimeout(() => {}, 1e9))); return; }
  if (more) setTimeout(step, tick); else process.stdout.once('drain', () => setTimeout(step, tick));
};
step();
`,
);

function start(kind) {
  const copy = join(dir, `${kind}.copy`);
  const device = `exec:sh -c "stty raw -echo; exec ${process.execPath} ${writer} ${copy} ${rate} ${seconds}"?share&replay=0`;
  const out = join(dir, kind);
  const args =
    kind === 'history'
      ? ['-v', `${device}&history=${out}&history-max=4G`, 'tcp-listen:127.0.0.1:0']
      : ['-v', '--log', `${out}.log`, device, 'tcp-listen:127.0.0.1:0'];
  const proc = spawn(process.execPath, [values.ptybridge, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  return { kind, proc, copy, out, stderr: () => err };
}

/** The ptybridge process alone (its device, a child, writes the data: not ours to count). */
function ownCpu(pid) {
  const kids = treeCpu(pid);
  let child = 0;
  for (const d of readdirSync(`/proc/${pid}/task`)) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${d}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) child += treeCpu(Number(c));
    } catch {}
  }
  return kids - child;
}

const writes = (pid) => {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { wchar: Number(/wchar: (\d+)/.exec(io)[1]), disk: Number(/write_bytes: (\d+)/.exec(io)[1]) };
};

const runs = [start('history'), start('log')];
const load = [loadavg()[0]];
const t0 = Date.now();
const cpu0 = new Map();
await new Promise((r) => setTimeout(r, 500));
for (const r of runs) cpu0.set(r.kind, ownCpu(r.proc.pid));
const loadTimer = setInterval(() => load.push(loadavg()[0]), 10_000);
// Each device ends with END-OF-RUN; its own copy is then complete. Only the tail is read while it runs.
for (;;) {
  await new Promise((res) => setTimeout(res, 1000));
  if (runs.every((r) => tail(r).includes('END-OF-RUN'))) break;
  if (Date.now() - t0 > (seconds + 120) * 1000) break;
}
clearInterval(loadTimer);
const wall = (Date.now() - t0) / 1000;
const rows = [];
for (const r of runs) {
  const cpu = ownCpu(r.proc.pid) - cpu0.get(r.kind);
  const w = writes(r.proc.pid);
  r.proc.kill('SIGTERM');
  await new Promise((res) => r.proc.once('exit', res));
  const want = createHash('sha256');
  let wantBytes = 0;
  for await (const c of createReadStream(r.copy)) {
    want.update(c);
    wantBytes += c.length;
  }
  want.update('\nEND-OF-RUN\n');
  const got = r.kind === 'history' ? await castHash(r.out) : await logHash(`${r.out}.log`);
  const onDisk = r.kind === 'history' ? readdirSync(r.out).reduce((n, f) => n + statSync(join(r.out, f)).size, 0) : statSync(`${r.out}.log`).size;
  rows.push({
    kind: r.kind === 'history' ? '?history (asciicast)' : '--log (transcript)',
    mib: (wantBytes / 1048576).toFixed(1),
    same: got.hash === want.digest('hex'),
    lost: wantBytes + 12 - got.bytes,
    cpuPct: ((cpu / wall) * 100).toFixed(1),
    cpuPerMiB: ((cpu / (wantBytes / 1048576)) * 1000).toFixed(2),
    diskMiB: (onDisk / 1048576).toFixed(1),
    writeRate: (w.wchar / wall / 1048576).toFixed(2),
    summary: (/history \S+: .*$/m.exec(r.stderr()) ?? [''])[0],
  });
}
const loadText = `${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`;
console.log(`${seconds} s at ${(rate / 1048576).toFixed(2)} MiB/s, both at once, load ${loadText}, wall ${wall.toFixed(0)} s`);
console.log(
  "| recorder | MiB written by the device | recording equals the device's copy | bytes missing | CPU % of a core | CPU ms per MiB | on disk MiB | write() rate MiB/s |",
);
console.log('|---|---|---|---|---|---|---|---|');
for (const x of rows)
  console.log(`| ${x.kind} | ${x.mib} | ${x.same ? 'yes (SHA-256)' : '**no**'} | ${x.lost} | ${x.cpuPct} | ${x.cpuPerMiB} | ${x.diskMiB} | ${x.writeRate} |`);
for (const x of rows) if (x.summary) console.log(x.summary);
rmSync(dir, { recursive: true, force: true });

/** The last 64 KiB of the newest recording. */
function tail(r) {
  try {
    const file =
      r.kind === 'history'
        ? join(
            r.out,
            readdirSync(r.out)
              .filter((n) => n.endsWith('.cast'))
              .sort()
              .at(-1),
          )
        : `${r.out}.log`;
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    const buf = Buffer.alloc(Math.min(size, 65536));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    closeSync(fd);
    return buf.toString('latin1');
  } catch {
    return '';
  }
}

/** SHA-256 and length of the "o" data of every .cast file in `d`, in order (complete lines only). */
async function castHash(d) {
  const h = createHash('sha256');
  let bytes = 0;
  for (const n of readdirSync(d)
    .filter((x) => x.endsWith('.cast'))
    .sort()) {
    let first = true;
    for await (const line of createInterface({ input: createReadStream(join(d, n)), crlfDelay: Infinity })) {
      if (first || line === '') {
        first = false;
        continue;
      }
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        continue; // an incomplete last line
      }
      if (e[1] !== 'o') continue;
      const b = Buffer.from(e[2], 'utf8');
      h.update(b);
      bytes += b.length;
    }
  }
  return { hash: h.digest('hex'), bytes };
}

/** The transcript without its stamps and event lines: what the device wrote, hashed. */
async function logHash(file) {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (/^\[\d{4}-\d\d-\d\dT[^\]]*\] --- .* ---$/.test(line)) continue;
    const b = Buffer.from(`${line.replace(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] /, '')}\n`, 'utf8');
    h.update(b);
    bytes += b.length;
  }
  return { hash: h.digest('hex'), bytes };
}
