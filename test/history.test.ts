// ?history / --history: the asciicast files hold the device's bytes exactly, with marks, rotation, a full disk that is survived, replay since boot, and the HTTP listing and ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTcp, readUntil, sha256, startPtyb } from './helpers/ptyb.js';
import { until } from './helpers/until.js';
import { authHeader, openPeer, withToken, wsUrl } from './helpers/ws.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ptyb-history-'));

type Ev = [number, string, string];
interface Cast {
  name: string;
  header: { version: number; width: number; height: number; timestamp: number; title: string; ptybridge: { console: string; boot: boolean; device: string } };
  events: Ev[];
}

/** The .cast files of a directory, oldest first; an incomplete last line is ignored, as readers do. */
function readCasts(dir: string): Cast[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.cast'))
    .sort()
    .flatMap((name) => {
      let text: string;
      try {
        text = readFileSync(join(dir, name), 'utf8');
      } catch {
        return []; // removed by ?history-max meanwhile
      }
      const lines = text.split('\n');
      const complete = lines.slice(0, -1); // the part after the last \n is "" or incomplete
      // A file just made has no header yet.
      if (complete.length === 0) return [];
      return [{ name, header: JSON.parse(complete[0]!) as Cast['header'], events: complete.slice(1).map((l) => JSON.parse(l) as Ev) }];
    });
}

const output = (casts: Cast[]) => Buffer.from(casts.flatMap((c) => c.events.filter((e) => e[1] === 'o').map((e) => e[2])).join(''), 'utf8');
const marks = (casts: Cast[]) => casts.flatMap((c) => c.events.filter((e) => e[1] === 'm').map((e) => e[2]));

/** Random UTF-8 text with 1-4 byte characters and line ends: a character is often cut between two reads. */
function utf8Text(bytes: number): Buffer {
  const alphabet = ['a', 'b', 'Z', ' ', '\n', 'é', 'ß', '€', '中', '😀', '\t', '\x1b[1m', '\x1b[0m'];
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const s = alphabet[Math.floor(Math.random() * alphabet.length)]!;
    parts.push(s);
    n += Buffer.byteLength(s);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

test('the recorded output is the device output, byte for byte, with the input when ?log-input', async () => {
  const dir = tmp();
  const data = join(dir, 'data.txt');
  writeFileSync(data, utf8Text(3 * 1024 * 1024));
  const hist = join(dir, 'h');
  // The device waits for a line, so the peer sees every byte the history has.
  const pb = await startPtyb([
    '-v',
    `exec:sh -c "stty raw -echo; read x; cat ${data}; echo; echo DONE; sleep 100"?share&replay=0&log-input&history=${hist}`,
    'tcp-listen:127.0.0.1:0',
  ]);
  try {
    const peer = await connectTcp(pb.listening[0]!.port);
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    peer.write('go\n');
    const typist = `tcp 127.0.0.1:${peer.localPort}`;
    await until(() => Buffer.concat(got).includes('DONE'), { what: 'the whole file at the peer', timeout: 120_000 });
    peer.destroy();
    assert.equal((await pb.stop()).code, 0);
    const casts = readCasts(hist);
    assert.equal(casts.length, 1);
    const c = casts[0]!;
    assert.equal(c.header.version, 2);
    assert.equal(c.header.ptybridge.boot, true);
    assert.match(c.header.ptybridge.device, /^exec sh/);
    assert.deepEqual(c.events[0]!.slice(1), ['m', 'boot']);
    // Times only grow, with six decimals at most.
    for (let i = 1; i < c.events.length; i++) assert.ok(c.events[i]![0] >= c.events[i - 1]![0]);
    assert.equal(sha256(output(casts)), sha256(Buffer.concat(got)), 'the .cast output equals what the peer got');
    assert.ok(output(casts).includes(readFileSync(data)), 'and holds the file');
    assert.ok(marks(casts).includes(`typed by ${typist}`), JSON.stringify(marks(casts)));
    assert.ok(c.events.some((e) => e[1] === 'i' && e[2] === 'go\n'));
    assert.equal(statSync(hist).mode & 0o777, 0o700);
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("marks: boot, ?mark across reads, device lost and back, a peer's mark; the HTTP listing and ranges", async () => {
  const dir = tmp();
  const hist = join(dir, 'h');
  // The match is cut in two writes; the device ends and is opened again (a second boot).
  const script = "printf 'U-Bo'; sleep 0.3; printf 'ot 2024.01\\r\\nhello\\r\\n'; sleep 1; exit 3";
  const pb = await startPtyb(['-v', `exec:sh -c "${script}"?share&history=${hist}&mark=U-Boot 20\\d\\d`, withToken('ws-listen:127.0.0.1:0/board')]);
  try {
    const port = pb.listening[0]!.port;
    await pb.logged(/exec sh .*is back/);
    const peer = await openPeer(wsUrl(port, '/board'));
    peer.ws.send(JSON.stringify({ type: 'mark', label: 'kernel panic\x07 here' }));
    await pb.logged(/marked the history: kernel panic  here/);
    peer.ws.close();
    // The listing: any authenticated caller; files in order, boots flagged.
    const list = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history`, { headers: authHeader });
    assert.equal(list.status, 200);
    const { files } = (await list.json()) as { files: { name: string; start: string; size: number; boot: boolean }[] };
    assert.ok(files.length >= 2, JSON.stringify(files));
    assert.ok(files.every((f) => f.boot && /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.cast$/.test(f.name) && !Number.isNaN(Date.parse(f.start))));
    assert.deepEqual(
      files.map((f) => f.name),
      [...files.map((f) => f.name)].sort(),
    );
    const first = files[0]!;
    const onDisk = readFileSync(join(hist, first.name));
    const whole = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${first.name}`, { headers: authHeader });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), sha256(onDisk));
    const part = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${first.name}`, { headers: { ...authHeader, Range: 'bytes=5-24' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 5-24/${onDisk.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), onDisk.subarray(5, 25));
    const tail = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${first.name}`, { headers: { ...authHeader, Range: 'bytes=-10' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), onDisk.subarray(-10));
    const beyond = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${first.name}`, {
      headers: { ...authHeader, Range: `bytes=${onDisk.length}-` },
    });
    assert.equal(beyond.status, 416);
    await beyond.arrayBuffer();
    // Only names of the listing: no way out of the directory, no other file in it.
    writeFileSync(join(hist, 'secret.cast'), 'no');
    for (const bad of ['..%2F..%2Fetc%2Fpasswd', '%2E%2E', 'secret.cast', `${first.name}%00`]) {
      const r = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${bad}`, { headers: authHeader });
      assert.equal(r.status, 404, bad);
      await r.arrayBuffer();
    }
    const noToken = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history`);
    assert.equal(noToken.status, 401);
    await noToken.arrayBuffer();
    // Many requests at once: some wait their turn (503), none hangs, the console still answers.
    const many = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${first.name}`, { headers: { ...authHeader, Range: 'bytes=0-0' } }).then(
          async (r) => (await r.arrayBuffer(), r.status),
        ),
      ),
    );
    assert.ok(
      many.every((s) => s === 206 || s === 503),
      JSON.stringify(many),
    );
    assert.ok(many.includes(206));
    assert.equal((await pb.stop()).code, 0);
    const casts = readCasts(hist).filter((c) => c.name !== 'secret.cast');
    const all = marks(casts);
    assert.equal(all[0], 'boot');
    assert.ok(all.includes('mark: U-Boot 2024'), JSON.stringify(all));
    assert.ok(
      all.some((m) => m.startsWith('device lost: ')),
      JSON.stringify(all),
    );
    assert.match(all.find((m) => m.startsWith('mark by '))!, /^mark by ws [\d.:]+: kernel panic {2}here$/);
    // The mark comes right after the output that completed it.
    const c0 = casts[0]!;
    const at = c0.events.findIndex((e) => e[2] === 'mark: U-Boot 2024');
    assert.match(c0.events[at - 1]![2], /^ot 2024/);
    assert.ok(casts.filter((c) => c.header.ptybridge.boot).length >= 2, 'each open of the device is a boot file');
    assert.equal(casts[0]!.header.title, 'board');
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('?history-max: new files every step, the oldest removed first, the total bounded', async () => {
  const dir = tmp();
  const hist = join(dir, 'h');
  const data = join(dir, 'data.txt');
  writeFileSync(data, utf8Text(600 * 1024));
  // 64k: a step of 16k per file, about four files kept.
  const pb = await startPtyb(['-v', `exec:sh -c "cat ${data}; echo; echo DONE; sleep 100"?share&history=${hist}&history-max=64k`, 'tcp-listen:127.0.0.1:0']);
  try {
    await until(() => existsSync(hist) && readCasts(hist).some((c) => output([c]).includes('DONE')), { what: 'DONE in the history', timeout: 60_000 });
    assert.equal((await pb.stop()).code, 0);
    const casts = readCasts(hist);
    const sizes = readdirSync(hist).map((n) => statSync(join(hist, n)).size);
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.ok(casts.length >= 3, `${casts.length} files`);
    assert.ok(total <= 64 * 1024 + 24 * 1024, `total ${total}`);
    // The boot file was the oldest: gone; what is left continues it.
    assert.ok(
      casts.every((c) => c.header.ptybridge.boot === false),
      JSON.stringify(casts.map((c) => c.header.ptybridge)),
    );
    // What is left is the end of the output, in order, with nothing missing in between.
    const kept = output(casts);
    const sent = Buffer.concat([readFileSync(data), Buffer.from('\r\nDONE\r\n')])
      .toString('utf8')
      .replace(/\r?\n/g, '\r\n');
    assert.ok(sent.endsWith(kept.toString('utf8')), 'the files kept are the tail of the output');
    // JSON escapes (\u001b for ESC) make a file larger than its text: more than one file's worth is kept.
    assert.ok(kept.length > 24 * 1024, `kept ${kept.length}`);
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full filesystem: one warning, every peer byte-exact, writing resumes when space returns', async (t) => {
  const dir = tmp();
  const mnt = join(dir, 'small');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    t.skip('cannot mount a tmpfs here (needs root)');
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const data = join(dir, 'data.txt');
  writeFileSync(data, utf8Text(3 * 1024 * 1024));
  const hist = join(mnt, 'h');
  const pb = await startPtyb([
    '-v',
    `exec:sh -c "stty raw -echo; read x; cat ${data}; echo; echo DONE; read y; echo AFTER-SPACE; sleep 100"?share&replay=0&history=${hist}`,
    'tcp-listen:127.0.0.1:0',
  ]);
  try {
    const peer = await connectTcp(pb.listening[0]!.port);
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    peer.write('go\n');
    await until(() => Buffer.concat(got).includes('DONE'), { what: 'the whole file at the peer', timeout: 120_000 });
    await pb.logged(/history .*: ENOSPC; recording paused, the console keeps serving/);
    const sent = readFileSync(data);
    assert.ok(Buffer.concat(got).includes(sent), 'the peer got every byte while the disk was full');
    // Space comes back: writing resumes, in a new file that says what is missing.
    for (const n of readdirSync(hist)) rmSync(join(hist, n));
    await pb.logged(/history .*: writing again \(\d+ bytes were not recorded\)/);
    peer.write('more\n');
    await until(() => Buffer.concat(got).includes('AFTER-SPACE'), { what: 'AFTER-SPACE at the peer' });
    assert.equal((await pb.stop()).code, 0);
    assert.equal(pb.stderr().match(/recording paused/g)?.length, 1, 'one warning');
    const casts = readCasts(hist);
    assert.ok(
      marks(casts).some((m) => /^history resumed: \d+ bytes not recorded \(ENOSPC\)$/.test(m)),
      JSON.stringify(marks(casts)),
    );
    assert.ok(output(casts).includes('AFTER-SPACE'));
  } finally {
    await pb.stop();
    execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('?replay=since-boot: a joiner gets every byte since the boot, not just the screen', async () => {
  const dir = tmp();
  const hist = join(dir, 'h');
  const data = join(dir, 'data.txt');
  writeFileSync(data, utf8Text(12 * 1024 * 1024));
  const pb = await startPtyb([
    '-v',
    `exec:sh -c "stty raw -echo; cat ${data}; echo; echo DONE; sleep 100"?share&replay=since-boot&history=${hist}`,
    'tcp-listen:127.0.0.1:0',
  ]);
  try {
    await until(() => existsSync(hist) && output(readCasts(hist)).includes('DONE'), { what: 'DONE in the history', timeout: 60_000 });
    // Nobody was connected: the joiner still gets the whole boot (12M, far past ?peer-queue's 1M).
    const peer = await connectTcp(pb.listening[0]!.port);
    const text = await readUntil(peer, 'DONE\n');
    peer.destroy();
    // Raw mode: no \r added to line ends.
    const want = Buffer.concat([readFileSync(data), Buffer.from('\nDONE\n')]);
    assert.equal(sha256(Buffer.from(text, 'latin1')), sha256(want));
    assert.equal(sha256(output(readCasts(hist))), sha256(want), 'and it is what the history holds');
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--history ROOT: a directory per console, named by its route; bad option values are refused', async () => {
  const dir = tmp();
  try {
    const pb = await startPtyb(['--history', join(dir, 'root'), 'exec:sh -c "echo hi there; sleep 100"?share', withToken('ws-listen:127.0.0.1:0/rack@1')]);
    try {
      await until(() => existsSync(join(dir, 'root', 'rack_1')) && output(readCasts(join(dir, 'root', 'rack_1'))).includes('hi there'), {
        what: 'the console directory',
      });
    } finally {
      await pb.stop();
    }
    const { runPtyb } = await import('./helpers/ptyb.js');
    const bad = await runPtyb(['exec:sh?share&history-max=1k&history=x', 'tcp-listen:0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /history-max/);
    const badMark = await runPtyb(['exec:sh?share&history=x&mark=(', 'tcp-listen:0']);
    assert.equal(badMark.code, 2);
    assert.match(badMark.stderr, /mark/);
    const noHistory = await runPtyb(['exec:sh?share&mark=x', 'tcp-listen:127.0.0.1:0']);
    assert.equal(noHistory.code, 2);
    assert.match(noHistory.stderr, /option "mark" has no effect without \?history=DIR \(or --history ROOT\)/);
    const noHub = await runPtyb(['--history', dir, 'tcp:127.0.0.1:9', 'tcp-listen:0']);
    assert.equal(noHub.code, 2);
    assert.match(noHub.stderr, /--history has no effect here/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("~m in the interactive client over ws: marks the far hub's history, and nothing reaches the device", async () => {
  const { inTmux } = await import('./helpers/tmux.js');
  const dir = tmp();
  const hist = join(dir, 'h');
  const got = join(dir, 'typed');
  const pb = await startPtyb(['-v', `exec:sh -c "stty raw -echo; cat > ${got}"?share&history=${hist}`, withToken('ws-listen:127.0.0.1:0')]);
  const t = await inTmux(['-v', '-', wsUrl(pb.listening[0]!.port)]);
  try {
    await t.tmux('send-keys', '-l', '~?');
    await t.waitFor(/~m {2}mark this moment in the console's history/);
    await t.tmux('send-keys', '-l', '~m');
    await t.waitFor(/\[ptybridge: marked\]/);
    await pb.logged(/marked the history: marked at \d{4}-/);
    await t.tmux('send-keys', '-l', 'typed-after');
    await until(() => existsSync(got) && readFileSync(got, 'utf8') === 'typed-after', { what: 'the typed text at the device, without the escapes' });
    await t.tmux('send-keys', 'Enter');
    await t.tmux('send-keys', '-l', '~.');
    await t.waitFor(/EXITED=0/);
    assert.equal((await pb.stop()).code, 0);
    assert.ok(
      marks(readCasts(hist)).some((m) => /^mark by ws 127\.0\.0\.1:\d+: marked at \d{4}-\d\d-\d\dT/.test(m)),
      JSON.stringify(marks(readCasts(hist))),
    );
  } finally {
    await t.close();
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a config file's history: ROOT records each route in ROOT/<name>/; --history ROOT wins over it", async () => {
  const dir = tmp();
  const file = join(dir, 'consoles.yaml');
  writeFileSync(
    file,
    `version: 1\nhistory: ${join(dir, 'from-file')}\nroutes:\n  - name: board-1\n    device: exec:sh -c "echo booted-1; sleep 100"?share\n    doors: [tcp-listen:127.0.0.1:0]\n`,
  );
  try {
    const pb = await startPtyb(['--config', file]);
    try {
      const d = join(dir, 'from-file', 'board-1');
      await until(() => existsSync(d) && output(readCasts(d)).includes('booted-1'), { what: 'the route directory' });
      assert.equal(readCasts(d)[0]!.header.title, 'board-1');
    } finally {
      await pb.stop();
    }
    const pb2 = await startPtyb(['--history', join(dir, 'from-flag'), '--config', file]);
    try {
      await until(() => existsSync(join(dir, 'from-flag', 'board-1')) && output(readCasts(join(dir, 'from-flag', 'board-1'))).includes('booted-1'), {
        what: "the flag's directory",
      });
    } finally {
      await pb2.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
