// Many consoles on one ws-listen port (a config file): each path gets only its device's bytes, `/` lists them, a reload adds one without dropping the others' peers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, runPtyb, startPtyb, tcpServer } from './helpers/ptyb.js';
import { startFakeVm, until, type FakeVm } from './helpers/devices.js';
import { TOKEN, wsUrl } from './helpers/ws.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-consoles-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A WebSocket peer that keeps every byte it is sent, from the first frame on. */
function peer(url: string): Promise<{ ws: WebSocket; got(): string; wait(text: string): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    const chunks: Buffer[] = [];
    ws.on('message', (d: Buffer) => chunks.push(Buffer.from(d)));
    const got = () => Buffer.concat(chunks).toString('latin1');
    ws.once('open', () => resolve({ ws, got, wait: (text) => until(() => got().includes(text)) }));
    ws.once('error', reject);
  });
}

// Devices by a link of our own: a /dev/pts/N that a VM gave back may go to another test's pty.
const link = (name: string) => join(dir, `vm-${name}`);
const route = (name: string, port: number) =>
  `  - name: ${name}\n    left: pty:${link(name)}?replay=bytes\n    right: ws-listen:${port}/console/${name}?token=${TOKEN}\n`;

/** The index's row for one console, as text: "b /console/b pty … open 2 peers". */
async function indexRows(port: number): Promise<string[]> {
  const res = await fetch(wsUrl(port, '/', 'http'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  const rows = [...html.matchAll(/<tr data-path=[^>]*><td>(.*?)<\/tr>/g)].map((m) =>
    m[0]
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  // Every console that has opened its device says when (its last boot); the rows below are read without it.
  for (const r of rows) assert.match(r, /(?:open|lost), booted \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ /);
  return rows.map((r) => r.replace(/, booted \S+ \S+Z/, ''));
}

test("one ws-listen port, many consoles by path: bytes stay on their path, / lists state and peers, SIGHUP adds a path and keeps the others' peers", {
  timeout: 30_000,
}, async () => {
  const vms: Record<string, FakeVm> = {};
  for (const n of ['a', 'b', 'c']) {
    vms[n] = await startFakeVm(link(n)); // each prints "login: " at boot
    vms[n].say(`console-${n}\r\n`);
  }
  const up = await tcpServer((s) => s.end('telnet-side\r\n'));
  const port = await freePort();
  const file = join(dir, 'consoles.yaml');
  const config = (extra = '') =>
    `version: 1\nroutes:\n${route('a', port)}${route('b', port)}${route('c', port)}` +
    `  - name: lab\n    left: tcp:127.0.0.1:${up.port}\n    right: tcp-listen:0?telnet\n${extra}`;
  writeFileSync(file, config());
  const pb = await startPtyb(['--config', file], { listeners: 4 });
  const peers: WebSocket[] = [];
  try {
    assert.deepEqual(
      pb.listening.map((l) => l.port),
      [port, port, port, pb.listening[3]!.port],
      'the three consoles share one port',
    );
    assert.deepEqual(
      pb.listening.slice(0, 3).map((l) => l.host),
      ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
    );

    const b = await peer(wsUrl(port, '/console/b'));
    const b2 = await peer(wsUrl(port, '/console/b'));
    const a = await peer(wsUrl(port, '/console/a'));
    const c = await peer(wsUrl(port, '/console/c'));
    peers.push(a.ws, b.ws, b2.ws, c.ws);
    // Each device talks; a's and c's bytes are seen on their own paths before b's last line.
    vms.a!.say('only-for-a\r\n');
    vms.c!.say('only-for-c\r\n');
    await a.wait('only-for-a\r\n');
    await c.wait('only-for-c\r\n');
    vms.b!.say('only-for-b\r\n');
    await b.wait('only-for-b\r\n');
    assert.equal(b.got(), 'login: console-b\r\nonly-for-b\r\n', 'b gets its replay and its output, exactly, nothing of a or c');
    assert.equal(a.got(), 'login: console-a\r\nonly-for-a\r\n');
    b.ws.send('typed-into-b\r');
    await vms.b!.waitReceived('typed-into-b\r');
    assert.ok(!vms.a!.received().includes('typed-into-b') && !vms.c!.received().includes('typed-into-b'));

    // A path nobody mounted is refused; the terminal page is served on each console's path.
    await assert.rejects(peer(wsUrl(port, '/console/zz')), /404/);
    const page = await fetch(wsUrl(port, '/console/b', 'http'));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /_ptybridge\/terminal\.js/);
    assert.equal((await fetch(wsUrl(port, '/console/_ptybridge/terminal.js', 'http'))).status, 200);

    let rows = await indexRows(port);
    assert.equal(rows.length, 3, rows.join('\n'));
    assert.match(rows[0]!, /^a \/console\/a pty \S+ open 1 peer$/);
    assert.match(rows[1]!, /^b \/console\/b pty \S+ open 2 peers$/);
    assert.match(rows[2]!, /^c \/console\/c pty \S+ open 1 peer$/);
    const html = await (await fetch(wsUrl(port, '/', 'http'))).text();
    assert.match(html, /<a href="\.\/console\/b">b<\/a>/, 'each console links to its terminal page, relative: under a proxy prefix too');

    // c's VM powers off: the index says so, and a peer leaving is counted.
    await vms.c!.quit();
    a.ws.close();
    rows = await until(
      async () => {
        const r = await indexRows(port);
        return / lost 1 peer$/.test(r[2]!) && / 0 peers$/.test(r[0]!) ? r : undefined;
      },
      { step: 50, what: 'the index to show c lost and a with 0 peers', detail: async () => (await indexRows(port)).join('\n') },
    );
    assert.match(rows[0]!, /^a \/console\/a pty \S+ open 0 peers$/);
    assert.match(rows[2]!, /^c \/console\/c pty \S+\/vm-c lost 1 peer$/, 'a lost device keeps its name');

    // Reload: a fourth console on the same port; b's peers stay connected and keep getting bytes.
    vms.d = await startFakeVm(link('d'));
    vms.d.say('console-d\r\n');
    writeFileSync(file, config(route('d', port)));
    pb.proc.kill('SIGHUP');
    await until(() => /reloaded .*: started "d"; failed none; kept /.test(pb.stderr()));
    assert.equal(pb.listening[4]?.port, port);
    const d = await peer(wsUrl(port, '/console/d'));
    peers.push(d.ws);
    await d.wait('console-d\r\n');
    vms.b!.say('after-reload\r\n');
    await b.wait('after-reload\r\n');
    await b2.wait('after-reload\r\n');
    assert.equal(b.got(), 'login: console-b\r\nonly-for-b\r\nafter-reload\r\n', 'the peer of b was never dropped');
    assert.equal(d.got(), 'login: console-d\r\n');
    rows = await indexRows(port);
    assert.deepEqual(
      rows.map((r) => r.split(' ')[0]),
      ['a', 'b', 'c', 'd'],
    );
    assert.match(rows[1]!, / open 2 peers$/);
    assert.match(rows[3]!, /^d \/console\/d pty \S+ open 1 peer$/);
    assert.doesNotMatch(pb.stderr(), /stopping route/, 'no route was restarted');
  } catch (err) {
    process.stderr.write(`ptybridge said:\n${pb.stderr()}\n`);
    throw err;
  } finally {
    peers.forEach((w) => w.terminate());
    await pb.stop();
    await up.close();
    await Promise.all(Object.values(vms).map((v) => v.quit()));
  }
});

test('routes that cannot share a port are refused before anything opens (and by --check): no path, the same path, a different token; exit 2, one line', async () => {
  const port = await freePort();
  const cases: [string, string, RegExp][] = [
    [
      `ws-listen:${port}/console/a`,
      `ws-listen:${port}`,
      /ws-listen:\d+: 127\.0\.0\.1:\d+ is also served by ws-listen:\d+\/console\/a; routes that share an address each need their own path/,
    ],
    [`ws-listen:${port}/console/a`, `ws-listen:${port}/console/a`, /path \/console\/a on 127\.0\.0\.1:\d+ is already served by ws-listen:\d+\/console\/a/],
    [
      `ws-listen:${port}/console/a?token=one`,
      `ws-listen:${port}/console/b?token=two`,
      /token= differs from ws-listen:\d+\/console\/a\?token=…, which also serves/,
    ],
  ];
  for (const [first, second, message] of cases) {
    const file = join(dir, 'clash.yaml');
    writeFileSync(
      file,
      `version: 1\nroutes:\n  - { name: one, left: "tcp:127.0.0.1:9", right: "${first}" }\n  - { name: two, left: "tcp:127.0.0.1:9", right: "${second}" }\n`,
    );
    for (const check of [['--check'], []]) {
      const r = await runPtyb(['--config', file, ...check]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /clash\.yaml:4:\d+: routes\[1\]\.right: /, 'names the file, line and route');
      assert.doesNotMatch(r.stderr, /listening on/, 'nothing was opened');
      assert.doesNotMatch(r.stderr, /token=(one|two)/, 'the token is never printed');
    }
  }
});

test('in Chromium: the index links to a console whose page connects to its own path; typing reaches that device only', { timeout: 60_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const vms = { a: await startFakeVm(link('ca')), b: await startFakeVm(link('cb')) };
  vms.a.say('this-is-a\r\n');
  vms.b.say('this-is-b\r\n');
  const port = await freePort();
  const file = join(dir, 'browser.yaml');
  writeFileSync(
    file,
    `version: 1\nroutes:\n  - { name: ca, left: "pty:${link('ca')}", right: "ws-listen:${port}/console/ca?token=${TOKEN}" }\n  - { name: cb, left: "pty:${link('cb')}", right: "ws-listen:${port}/console/cb?token=${TOKEN}" }\n`,
  );
  const pb = await startPtyb(['--config', file], { listeners: 2 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    // The index opened with the token gets the session cookie, which then opens the console's page and socket.
    await page.goto(wsUrl(port, '/', 'http'));
    await page.click('a[href="./console/cb"]');
    await page.waitForSelector('#status.connected');
    assert.equal(new URL(page.url()).pathname, '/console/cb');
    await page.waitForFunction(() => {
      const b = (
        window as unknown as {
          ptybridge: { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(): string } | undefined } } } };
        }
      ).ptybridge.term.buffer.active;
      let text = '';
      for (let i = 0; i < b.length; i++) text += b.getLine(i)?.translateToString() ?? '';
      return text.includes('this-is-b') && !text.includes('this-is-a');
    });
    await page.locator('.xterm').click();
    await page.keyboard.type('typed-in-browser\r');
    await vms.b.waitReceived('typed-in-browser\r');
    assert.ok(!vms.a.received().includes('typed-in-browser'));
  } finally {
    await browser.close();
    await pb.stop();
    await Promise.all(Object.values(vms).map((v) => v.quit()));
  }
});
