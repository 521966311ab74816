// What a newcomer types and reads on the command line (issue 23): quoted examples, "did you mean", socat's and a URL's spellings, a missing command, durations as written.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PTYBRIDGE, ROOT, runPtyb, runTool, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/devices.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-usability-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The example lines of a help text: what follows its "examples:" heading, each without its `# comment`. */
function examples(help: string): string[] {
  const at = help.search(/^examples:$/im);
  assert.ok(at >= 0, 'an examples section');
  return help
    .slice(at)
    .split('\n')
    .slice(1)
    .filter((l) => l.trim().startsWith('ptybridge '))
    .map((l) => l.replace(/\s{2,}#.*$/, ''));
}

test('every --help example with & quotes it: pasted into bash, an unquoted & would background the command', async () => {
  const schemes = /^Addresses are[\s\S]*?\n((?: {2}\S+:.*\n)+)/m
    .exec((await runPtyb(['--help'])).stdout.toString())![1]!
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(':')[0]!);
  assert.ok(schemes.length >= 14, schemes.join(' '));
  let withAmp = 0;
  for (const s of ['', ...schemes]) {
    const help = (await runPtyb(s ? ['--help', s] : ['--help'])).stdout.toString();
    for (const line of examples(help)) {
      if (line.includes('&')) withAmp++;
      // What bash sees outside quotes.
      const bare = line.replace(/'[^']*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""');
      assert.doesNotMatch(bare, /&/, `--help ${s}: ${line}`);
    }
  }
  assert.ok(withAmp >= 5, `examples with & were checked (${withAmp})`);
});

test('a config route with a misspelt key names it, with the key it meant (not "right: expected string")', async () => {
  const file = join(dir, 'typo.yaml');
  writeFileSync(file, 'version: 1\nroutes:\n  - name: a\n    left: tcp:127.0.0.1:9\n    rihgt: tcp-listen:0\n');
  const r = await runPtyb(['--config', file, '--check']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    `ptybridge: ${file}:5:5: routes[0].rihgt: unknown key "rihgt" (did you mean "right"?); known: name, left, right, device, doors, options\n`,
  );
});

test("another tool's spelling gets the ptybridge one: a misspelt flag, http://, socat's TCP-LISTEN:8080,fork", async (t) => {
  const cases: [string[], string][] = [
    [['--verbsoe', '-', 'tcp:127.0.0.1:9'], `Unknown option '--verbsoe' (did you mean "--verbose"?); see ptybridge --help`],
    [
      ['-', 'http://127.0.0.1:8080/'],
      'http://127.0.0.1:8080/: unknown scheme "http" (did you mean "ws://127.0.0.1:8080/"? a WebSocket peer is ws:// or wss://); known: tcp, tcp-listen, tls, tls-listen, unix, unix-listen, udp, udp-listen, file, stdio, pty, serial, exec, ws, wss, ws-listen',
    ],
    [
      ['TCP-LISTEN:8080,fork', 'tcp:127.0.0.1:9'],
      'TCP-LISTEN:8080,fork: this is socat\'s syntax: ptybridge writes options after "?", joined by "&": tcp-listen:8080 (fork is what a listener does already: each peer gets its own connection)',
    ],
    [
      ['-', 'TCP:localhost:23,nodelay'],
      'TCP:localhost:23,nodelay: this is socat\'s syntax: ptybridge writes options after "?", joined by "&": tcp:localhost:23?nodelay',
    ],
    [
      ['EXEC:bash,pty', 'tcp-listen:0'],
      'EXEC:bash,pty: command "bash,pty" not found in PATH; this is socat\'s syntax: ptybridge writes options after "?", joined by "&": exec:bash?pty',
    ],
  ];
  for (const [args, message] of cases) {
    await t.test(args.join(' '), async () => {
      const r = await runPtyb(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `ptybridge: ${message}\n`);
    });
  }
});

test('exec: with no PATH (env -i) finds commands where execvp would; a missing command is refused at start, before listening', async () => {
  const ran = await runTool('/usr/bin/env', ['-i', process.execPath, PTYBRIDGE, 'exec:echo hi-from-env-i?pipes', '-']);
  assert.equal(ran.stdout.toString(), 'hi-from-env-i\n', ran.stderr);
  assert.equal(ran.code, 0, ran.stderr);
  const missing = await runTool('/usr/bin/env', ['-i', process.execPath, PTYBRIDGE, 'exec:no-such-command-23', 'tcp-listen:0']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.equal(
    missing.stderr,
    'ptybridge: exec:no-such-command-23: command "no-such-command-23" not found (PATH is unset: looked in /usr/local/bin:/usr/bin:/bin)\n',
  );
  const notExec = await runPtyb([`exec:${dir}`, 'tcp-listen:0']);
  assert.equal(notExec.code, 2, notExec.stderr);
  assert.equal(notExec.stderr, `ptybridge: exec:${dir}: command ${JSON.stringify(dir)} not found\n`);
});

test('durations read as written (10s, 1m), not milliseconds, in --help and --check; --check lists hub options only on a hub', async () => {
  const help = (await runPtyb(['--help', 'ws-listen'])).stdout.toString();
  assert.match(help, /^ {2}header-timeout a duration such as 500ms, 2s or 1m \(at most 600s\) \(default 10s\)$/m);
  assert.match(help, /^ {2}ping {9}a duration .* \(default 30s\)$/m);
  assert.match(help, /^ {2}max-frame {4}.* \(default 1M\)$/m);
  const file = join(dir, 'check.yaml');
  writeFileSync(
    file,
    'version: 1\nroutes:\n  - name: vnc\n    left: tcp:127.0.0.1:5900\n    right: ws-listen:0\n  - name: vm\n    left: pty:/dev/null\n    right: tcp-listen:0\n',
  );
  const r = await runPtyb(['--config', file, '--check']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout.toString(),
    [
      'vnc: fork: each peer gets its own upstream',
      '  upstream  tcp:127.0.0.1:5900  [nodelay=true telnet=false keepalive=1m idle=0 retry=0 interval=1s share=false]',
      '  door      ws-listen:0  [readonly=false max=0 header-timeout=10s ping=30s max-frame=1M web=true dotfiles=false]',
      'vm: hub: one shared device, 1 door',
      '  device    pty:/dev/null  [raw=true echo=false line-watch=true policy=shared scrollback=1000 peer-queue=1M max-peers=1024 log-input=false history-max=256M]',
      '  door      tcp-listen:0  [nodelay=true telnet=false max=0 keepalive=1m idle=0 readonly=false]',
      '  hub       policy shared, replay screen (scrollback 1000, 80x24), peer-queue 1M, max-peers 1024, log-input off',
      '',
    ].join('\n'),
  );
});

test('SIGHUP says "restarted" for a route whose addresses changed (not "started", as if it were new)', { timeout: 30_000 }, async () => {
  const file = join(dir, 'hup.yaml');
  const config = (port: number) => `version: 1\nroutes:\n  - name: a\n    left: tcp:127.0.0.1:${port}\n    right: tcp-listen:0\n`;
  writeFileSync(file, config(9));
  const pb = await startPtyb(['--config', file]);
  try {
    writeFileSync(file, config(10));
    pb.proc.kill('SIGHUP');
    await until(() => pb.stderr().includes('reloaded'));
    await pb.logged(/reload: restarting route "a"\n/);
    await pb.logged(new RegExp(`ptybridge: reloaded ${file}: started none; restarted "a"; failed none; kept none; stopped none\n`));
  } finally {
    await pb.stop();
  }
});

test('a second listener that cannot bind (EADDRINUSE) leaves no "open http://…" printed for the first', async (t) => {
  const taken = await tcpServer(() => {});
  try {
    for (const args of [
      ['exec:cat?share', 'ws-listen:0', `tcp-listen:${taken.port}`],
      ['ws-listen:0', `tcp-listen:${taken.port}`],
    ]) {
      await t.test(args.join(' '), async () => {
        const r = await runPtyb(args);
        assert.equal(r.code, 1, r.stderr);
        assert.doesNotMatch(r.stderr, /open http/);
        assert.match(r.stderr, new RegExp(`ptybridge: tcp-listen:${taken.port}: EADDRINUSE \\(address already in use\\)\n$`));
      });
    }
  } finally {
    await taken.close();
  }
});

test('a script piped into a command on a pty gets one hint to use ?pipes; with ?pipes, none and the bytes as sent', async () => {
  const pty = await runPtyb(['-', 'exec:cat'], { input: 'echo hi\n' });
  assert.equal(pty.code, 0, pty.stderr);
  assert.equal(
    pty.stderr,
    "ptybridge: stdin is not a terminal, and exec:cat runs on a pty: its prompt, echo and terminal codes come back with the output; for a script, add ?pipes (plain pipes, as socat's EXEC)\n",
  );
  const pipes = await runPtyb(['-', 'exec:cat?pipes'], { input: 'echo hi\n' });
  assert.equal(pipes.code, 0, pipes.stderr);
  assert.equal(pipes.stderr, '');
  assert.equal(pipes.stdout.toString(), 'echo hi\n');
});

test("the QEMU example's guest takes a local kernel and then downloads nothing (it used to fetch Debian's silently)", { timeout: 60_000 }, async (t) => {
  if (!existsSync('/bin/busybox')) return t.skip('busybox-static is not installed');
  const cache = join(dir, 'qemu-cache');
  const kernel = join(dir, 'vmlinuz-local');
  writeFileSync(kernel, 'not really a kernel: qemu-guest.sh only hands its path on');
  const r = await runTool(join(ROOT, 'test/helpers/qemu-guest.sh'), [kernel], { env: { ...process.env, PTYB_QEMU_CACHE: cache } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const [k, initrd, ...rest] = r.stdout.toString().split('\n');
  assert.deepEqual([k, rest], [kernel, ['']]);
  assert.match(initrd!, new RegExp(`^${cache}/initramfs-[0-9a-f]{12}\\.cpio$`));
  assert.deepEqual(readdirSync(cache), [initrd!.slice(cache.length + 1)], 'only the initramfs: no kernel package fetched');
  assert.equal(readFileSync(initrd!).subarray(0, 6).toString(), '070701', 'a newc cpio');
  const example = readFileSync(join(ROOT, 'examples/qemu-serial-console.sh'), 'utf8');
  assert.match(example, /DOWNLOADED once/);
  assert.match(example, /qemu-guest\.sh \$\{KERNEL:\+"\$KERNEL"\}/);
});
