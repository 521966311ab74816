// --config: three consoles in one process, isolated; SIGHUP adds and removes routes without dropping peers; bad files refused whole.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { connectTcp, readUntil, runPtyb, startPtyb, tcpServer } from './helpers/ptyb.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A console stand-in: greets with its name, then echoes in upper case. */
const consoleServer = (name: string) =>
  tcpServer((s) => {
    s.write(`${name}> `);
    s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
  });

const yaml = (routes: { name: string; left: string; right: string; log?: string }[]) =>
  [
    'version: 1',
    'routes:',
    ...routes.flatMap((r) => [
      `  - name: ${r.name}`,
      `    left: ${r.left}`,
      `    right: ${r.right}`,
      ...(r.log ? ['    options:', `      log: ${r.log}`] : []),
    ]),
  ].join('\n') + '\n';

async function talk(port: number, banner: string, text: string): Promise<net.Socket> {
  const c = await connectTcp(port);
  await readUntil(c, `${banner}> `);
  c.write(text);
  await readUntil(c, text.toUpperCase());
  return c;
}

test('three consoles on three ports, isolated; SIGHUP adds a fourth and removes one, peers of the others stay', { timeout: 60_000 }, async () => {
  const servers = await Promise.all(['alpha', 'bravo', 'charlie', 'delta'].map(consoleServer));
  const route = (name: string, i: number) => ({ name, left: `tcp:127.0.0.1:${servers[i]!.port}`, right: 'tcp-listen:0' });
  const file = join(dir, 'consoles.yaml');
  writeFileSync(file, yaml([route('alpha', 0), { ...route('bravo', 1), log: join(dir, 'bravo.log') }, route('charlie', 2)]));
  const pb = await startPtyb(['--config', file], { listeners: 3 });
  const peers: net.Socket[] = [];
  try {
    const ports = pb.listening.map((l) => l.port);
    await pb.logged(/\[alpha\] listening on tcp 127\.0\.0\.1:\d+[\s\S]*\[bravo\] listening[\s\S]*\[charlie\] listening/);
    // Each port reaches its own console and only that one.
    peers.push(await talk(ports[0]!, 'alpha', 'one'), await talk(ports[1]!, 'bravo', 'two'), await talk(ports[2]!, 'charlie', 'three'));

    // Reload: bravo unchanged, alpha unchanged, charlie removed, delta added.
    writeFileSync(file, yaml([route('alpha', 0), { ...route('bravo', 1), log: join(dir, 'bravo.log') }, route('delta', 3)]));
    pb.proc.kill('SIGHUP');
    await readUntil(pb.proc.stderr!, /reloaded .*: started "delta"; failed none; kept "alpha", "bravo"; stopped "charlie"\n/);
    const delta = /\[delta\] listening on tcp 127\.0\.0\.1:(\d+)/.exec(pb.stderr())!;
    peers.push(await talk(Number(delta[1]), 'delta', 'four'));
    // The peers of unchanged routes were kept: the same connections still answer.
    peers[0]!.write('still-a');
    await readUntil(peers[0]!, 'STILL-A');
    peers[1]!.write('still-b');
    await readUntil(peers[1]!, 'STILL-B');
    // charlie's listener is gone.
    await assert.rejects(connectTcp(ports[2]!), /ECONNREFUSED/);
    assert.doesNotMatch(pb.stderr(), /\[(alpha|bravo)\] listening[\s\S]*reloaded[\s\S]*\[(alpha|bravo)\] listening/);
  } finally {
    peers.forEach((p) => p.destroy());
    const { code } = await pb.stop();
    assert.equal(code, 0, pb.stderr());
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('--check prints the effective routes with defaults and opens nothing', async () => {
  const file = join(dir, 'check.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'routes:',
      '  - name: lab1',
      '    left: tcp:127.0.0.1:1',
      '    right: tcp-listen:7001?telnet',
      '    options: {log: /tmp/lab1.log, log-max-size: 1M}',
      '',
    ].join('\n'),
  );
  const r = await runPtyb(['--config', file, '--check']);
  assert.equal(r.code, 0, r.stderr);
  // Options with their defaults filled in (other options may join the lists over time).
  const out = r.stdout.toString().split('\n');
  assert.equal(out[0], 'lab1: fork: each peer gets its own upstream');
  assert.match(out[1]!, /^  upstream  tcp:127\.0\.0\.1:1  \[nodelay=true telnet=false .*retry=0 interval=1s.*\]$/);
  assert.match(out[2]!, /^  door      tcp-listen:7001\?telnet  \[nodelay=true telnet=true max=0.*\]$/);
  assert.equal(out[3], '  log       /tmp/lab1.log (rotated once it would pass 1M (1048576 bytes), 5 old files kept)');
  // Without log-max-size the file is never rotated, and it says so in words.
  writeFileSync(
    file,
    ['version: 1', 'routes:', '  - name: lab1', '    left: tcp:127.0.0.1:1', '    right: tcp-listen:7001', '    options: {log: /tmp/lab1.log}', ''].join('\n'),
  );
  const never = await runPtyb(['--config', file, '--check']);
  assert.equal(never.code, 0, never.stderr);
  assert.equal(never.stdout.toString().split('\n')[3], '  log       /tmp/lab1.log (never rotated: no log-max-size)');
});

test('--check finds every listener clash (tcp, ws on tcp, udp, unix), naming both file:line', async (t) => {
  const route = (name: string, left: string, right: string) => [`  - name: ${name}`, `    left: ${left}`, `    right: ${right}`];
  const sock = join(dir, 'clash.sock');
  const cases: [string, string, string, string][] = [
    ['tcp, same port', 'tcp-listen:27123', 'tcp-listen:127.0.0.1:27123', 'tcp 127.0.0.1:27123'],
    ['tcp, wildcard and loopback', 'tcp-listen:0.0.0.0:27123', 'tcp-listen:27123', 'tcp 127.0.0.1:27123'],
    ['ws-listen on a tcp-listen port', 'tcp-listen:27123', 'ws-listen:27123', 'tcp 127.0.0.1:27123'],
    ['udp', 'udp-listen:27123', 'udp-listen:[::]:27123', 'udp [::]:27123'],
    ['unix', `unix-listen:${sock}`, `unix-listen:${sock}?mode=0600`, `unix ${sock}`],
  ];
  for (const [what, first, second, bound] of cases) {
    await t.test(what, async () => {
      const file = join(dir, `clash-${what.replace(/\W/g, '-')}.yaml`);
      writeFileSync(file, ['version: 1', 'routes:', ...route('one', first, 'tcp:127.0.0.1:1'), ...route('two', 'tcp:127.0.0.1:1', second), ''].join('\n'));
      const r = await runPtyb(['--config', file, '--check']);
      assert.equal(r.code, 2, r.stderr);
      const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(
        r.stderr,
        new RegExp(
          `^ptybridge: ${esc(file)}:8:12: routes\\[1\\]\\.right: ${esc(second)} binds ${esc(bound)}, as routes\\[0\\]\\.left does at ${esc(file)}:4:11; one of them would fail with EADDRINUSE\n$`,
        ),
      );
    });
  }
  // Port 0 never clashes (the OS picks), nor do a tcp and a udp listener on one port.
  const file = join(dir, 'no-clash.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'routes:',
      ...route('one', 'tcp-listen:0', 'tcp:127.0.0.1:1'),
      ...route('two', 'tcp-listen:0', 'tcp:127.0.0.1:1'),
      ...route('three', 'udp-listen:27123', 'tcp:127.0.0.1:1'),
      ...route('four', 'tcp-listen:27123', 'tcp:127.0.0.1:1'),
      '',
    ].join('\n'),
  );
  const ok = await runPtyb(['--config', file, '--check']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('SIGHUP says what started, what failed (and why) and what was kept', { timeout: 30_000 }, async () => {
  const blocker = await tcpServer(() => {});
  const file = join(dir, 'reload-fail.yaml');
  const alpha = { name: 'alpha', left: 'tcp:127.0.0.1:1', right: 'tcp-listen:0' };
  writeFileSync(file, yaml([alpha]));
  const pb = await startPtyb(['--config', file]);
  try {
    writeFileSync(
      file,
      yaml([
        alpha,
        { name: 'bravo', left: 'tcp:127.0.0.1:1', right: 'tcp-listen:0' },
        { name: 'taken', left: 'tcp:127.0.0.1:1', right: `tcp-listen:${blocker.port}` },
      ]),
    );
    pb.proc.kill('SIGHUP');
    const line = (await readUntil(pb.proc.stderr!, /reloaded .*\n/))
      .toString()
      .split('\n')
      .find((l) => l.includes('reloaded'))!;
    assert.equal(
      line,
      `ptybridge: reloaded ${file}: started "bravo"; failed "taken" (tcp-listen:${blocker.port}: EADDRINUSE (address already in use)); kept "alpha"; stopped none`,
    );
  } finally {
    await pb.stop();
    await blocker.close();
  }
});

test('a bad config is refused whole: file:line:col and the key, exit 2, nothing listens', async (t) => {
  const good = ['version: 1', 'routes:', '  - name: ok', '    left: tcp:127.0.0.1:1', '    right: tcp-listen:0'];
  const cases: [string, string[], RegExp][] = [
    [
      'unknown option key',
      [...good, '  - name: two', '    left: tcp:127.0.0.1:1', '    right: tcp-listen:0', '    options:', '      lgo: x.log'],
      /:10:7: routes\[1\]\.options\.lgo: unknown key "lgo" \(did you mean "log"\?\); known: log, log-max-size, log-keep, log-fifo, hex, policy$/,
    ],
    [
      'bad URI option',
      [...good, '  - name: two', '    left: tcp:127.0.0.1:1?nodelya', '    right: tcp-listen:0'],
      /:7:11: routes\[1\]\.left: tcp:127\.0\.0\.1:1\?nodelya: unknown option "nodelya" \(did you mean "nodelay"\?\)$/,
    ],
    [
      'unknown scheme',
      [...good, '  - name: two', '    left: tpc:127.0.0.1:1', '    right: tcp-listen:0'],
      /:7:11: routes\[1\]\.left: tpc:127\.0\.0\.1:1: unknown scheme "tpc" \(did you mean "tcp:"\?\)/,
    ],
    [
      'duplicate name',
      [...good, '  - name: ok', '    left: tcp:127.0.0.1:1', '    right: tcp-listen:0'],
      /:6:11: routes\[1\]\.name: "ok" is also the name of routes\[0\]$/,
    ],
    ['missing right', [...good, '  - name: two', '    left: tcp:127.0.0.1:1'], /:6:5: routes\[1\]\.right: /],
    ['wrong version', ['version: 2', ...good.slice(1)], /:1:10: version: expected version: 1$/],
    [
      'policy without a hub',
      [...good, '    options: {policy: exclusive}'],
      /:6:15: routes\[0\]\.options\.policy: has no effect here: a policy applies to a shared device \(pty:, serial:, file:, stdio:, exec:…\?share\) behind a listener$/,
    ],
    [
      'log-max-size without log',
      [...good, '    options: {log-max-size: 16M}'],
      /:6:15: routes\[0\]\.options\.log-max-size: has no effect without options\.log$/,
    ],
    [
      'hub option on a device with no listener',
      [...good, '  - name: two', '    left: pty:?replay=1k', '    right: tcp:127.0.0.1:1'],
      /:6:11: route "two": pty:\?replay=1k: option "replay" has no effect here: it applies to a shared device behind a listener$/,
    ],
    [
      'YAML alias bomb (a billion laughs)',
      [
        'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
        ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`),
        ...good,
      ],
      /: Excessive alias count .* \(YAML aliases expand to too much\)$/,
    ],
    ['log-fifo without log', [...good, '    options: {log-fifo: true}'], /:6:15: routes\[0\]\.options\.log-fifo: has no effect without options\.log$/],
    ['YAML syntax', [...good, '  - name: [unclosed'], /yaml:\d+:\d+: Flow sequence in block collection must be sufficiently indented and end with a \]$/],
  ];
  for (const [what, lines, want] of cases) {
    await t.test(what, async () => {
      const file = join(dir, `bad-${what.replace(/\W/g, '-')}.yaml`);
      writeFileSync(file, lines.join('\n') + '\n');
      const r = await runPtyb(['--config', file]);
      assert.equal(r.code, 2, r.stderr);
      const line = r.stderr.trim();
      assert.equal(line.split('\n').length, 1, r.stderr);
      assert.ok(line.startsWith(`ptybridge: ${file}:`), line);
      assert.match(line, want);
      assert.doesNotMatch(r.stderr, /listening on/);
    });
  }
});
