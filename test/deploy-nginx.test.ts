// docs/DEPLOY.md run as written: two console hosts (127.0.0.2, 127.0.0.3) from its config and systemd unit, its nginx front door with TLS under /a/ and /b/, its Prometheus files; Chromium goes index → console → type → answer through the front door.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, PTYBRIDGE, ROOT, runPtyb, runTool, spawnTracked, startPtyb, waitForPort, type Running } from './helpers/ptyb.js';
import { startFakeVm, type FakeVm } from './helpers/devices.js';
import { until } from './helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-deploy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The blocks of docs/DEPLOY.md marked `<!-- file: NAME -->`, by name. */
function docFiles(): Record<string, string> {
  const doc = readFileSync(join(ROOT, 'docs/DEPLOY.md'), 'utf8');
  const files: Record<string, string> = {};
  for (const m of doc.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)```\n/g)) files[m[1]!] = m[2]!;
  return files;
}

/** Every `from` replaced by `to`; a `from` the text lacks is an error (the doc changed under the test). */
function replaceAll(text: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    assert.ok(text.includes(from), `the recipe no longer says ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

/** A port free on both console hosts' addresses: both use the same one, as in the recipe. */
async function portOn(hosts: string[]): Promise<number> {
  for (;;) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, hosts[0], r));
    const port = (s.address() as net.AddressInfo).port;
    const others = await Promise.all(
      hosts.slice(1).map(
        (h) =>
          new Promise<boolean>((r) => {
            const t = net.createServer().once('error', () => r(false));
            t.listen(port, h, () => t.close(() => r(true)));
          }),
      ),
    );
    await new Promise((r) => s.close(r));
    if (others.every(Boolean)) return port;
  }
}

test('DEPLOY.md: systemd unit and config on two hosts, nginx TLS front door under /a/ and /b/, Prometheus config; Chromium: index → console → type → answer on both', {
  timeout: 120_000,
}, async () => {
  const files = docFiles();
  assert.deepEqual(Object.keys(files).sort(), [
    'consoles.conf',
    'consoles.yaml',
    'prometheus.yml',
    'ptybridge-proxy.conf',
    'ptybridge-rules.yml',
    'ptybridge.service',
  ]);
  const hosts = { a: '127.0.0.2', b: '127.0.0.3' } as const;
  const port = await portOn(Object.values(hosts));
  const metricsPort = await portOn(Object.values(hosts));
  const front = await freePort();
  const tokens = { a: 'token-of-host-a-9Fq', b: 'token-of-host-b-X2w' };
  const vms: Partial<Record<'a' | 'b', FakeVm>> = {};
  const running: Running[] = [];
  let nginx: ReturnType<typeof spawnTracked> | undefined;
  let nginxErr = '';
  const { chromium } = await import('playwright-core');
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    // 1-2. Each host: its config and its systemd unit, as the doc writes them (paths and ports aside).
    for (const h of ['a', 'b'] as const) {
      const addr = hosts[h];
      vms[h] = await startFakeVm(join(dir, `vm1-${h}.console`));
      writeFileSync(join(dir, `token-${h}`), `${tokens[h]}\n`);
      const config = join(dir, `consoles-${h}.yaml`);
      writeFileSync(
        config,
        replaceAll(files['consoles.yaml']!, [
          ['/run/vms/vm1.console', join(dir, `vm1-${h}.console`)],
          ['127.0.0.2:8080', `${addr}:${port}`],
          ['/run/credentials/ptybridge.service/token', join(dir, `token-${h}`)],
        ]),
      );
      const unitFile = join(dir, h, 'ptybridge.service');
      rmSync(join(dir, h), { recursive: true, force: true });
      mkdirSync(join(dir, h));
      const unit = replaceAll(files['ptybridge.service']!, [
        ['/usr/local/bin/ptybridge', PTYBRIDGE],
        ['/etc/ptybridge/consoles.yaml', config],
        ['/etc/ptybridge/token', join(dir, `token-${h}`)],
        ['127.0.0.2:9464', `${addr}:${metricsPort}`],
      ]);
      writeFileSync(unitFile, unit);
      const verify = await runTool('systemd-analyze', ['verify', '--man=no', unitFile]);
      assert.equal(verify.code, 0, `systemd-analyze verify: ${verify.stderr}`);
      const argsOf = (key: string) => new RegExp(`^${key}=(\\S+) (.*)$`, 'm').exec(unit)!.slice(1) as [string, string];
      const [preBin, preArgs] = argsOf('ExecStartPre');
      assert.equal(preBin, PTYBRIDGE);
      const check = await runPtyb(preArgs.split(' '));
      assert.equal(check.code, 0, check.stderr);
      const [bin, args] = argsOf('ExecStart');
      assert.equal(bin, PTYBRIDGE);
      running.push(await startPtyb(args.split(' ')));
    }
    for (const pb of running) {
      // --log-format json: every line an object; the route's name on its lines.
      const lines = pb
        .stderr()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; route?: string });
      assert.ok(
        lines.some((l) => l.event === 'listening' && l.route === 'vm1'),
        pb.stderr(),
      );
    }
    assert.deepEqual(
      running.map((r) => `${r.listening[0]!.host}:${r.listening[0]!.port}`),
      [`127.0.0.2:${port}`, `127.0.0.3:${port}`],
    );

    // 3. nginx, not as a daemon, with its own prefix; the doc's two files as written but for ports and paths.
    const cert = join(dir, 'consoles.crt');
    const key = join(dir, 'consoles.key');
    const ssl = await runTool('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=consoles.example.com',
      '-addext',
      'subjectAltName=DNS:consoles.example.com',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    assert.equal(ssl.code, 0, ssl.stderr);
    const snippet = join(dir, 'ptybridge-proxy.conf');
    writeFileSync(snippet, files['ptybridge-proxy.conf']!);
    writeFileSync(
      join(dir, 'consoles.conf'),
      replaceAll(files['consoles.conf']!, [
        ['listen 8443 ssl', `listen 127.0.0.1:${front} ssl`],
        ['/etc/nginx/tls/consoles.crt', cert],
        ['/etc/nginx/tls/consoles.key', key],
        ['127.0.0.2:8080', `127.0.0.2:${port}`],
        ['127.0.0.3:8080', `127.0.0.3:${port}`],
        ['/etc/nginx/snippets/ptybridge-proxy.conf', snippet],
      ]),
    );
    const temp = (what: string) => `${what}_temp_path ${join(dir, `nginx-${what}`)};`;
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;\nmaster_process off;\npid ${join(dir, 'nginx.pid')};\nerror_log stderr warn;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}\n  include ${join(dir, 'consoles.conf')};\n}\n`,
    );
    const syntax = await runTool('nginx', ['-t', '-q', '-p', dir, '-e', 'stderr', '-c', join(dir, 'nginx.conf')]);
    assert.equal(syntax.code, 0, syntax.stderr);
    nginx = spawnTracked('nginx', ['-p', dir, '-e', 'stderr', '-c', join(dir, 'nginx.conf')]);
    nginx.stderr!.on('data', (c: Buffer) => (nginxErr += c.toString()));
    await waitForPort(front);

    // 4. Prometheus: the scrape config and rules check, and each target answers in the text promtool accepts.
    writeFileSync(join(dir, 'ptybridge-rules.yml'), files['ptybridge-rules.yml']!);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      replaceAll(files['prometheus.yml']!, [
        ['127.0.0.2:9464', `127.0.0.2:${metricsPort}`],
        ['127.0.0.3:9464', `127.0.0.3:${metricsPort}`],
      ]),
    );
    const promCheck = await runTool('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    assert.equal(promCheck.code, 0, `${promCheck.stdout}${promCheck.stderr}`);
    for (const target of /targets: \[(.*)\]/
      .exec(readFileSync(join(dir, 'prometheus.yml'), 'utf8'))![1]!
      .split(',')
      .map((t) => t.trim().replace(/'/g, ''))) {
      const text = await (await fetch(`http://${target}/metrics`)).text();
      const lint = await runTool('promtool', ['check', 'metrics'], { input: text });
      assert.equal(lint.code, 0, lint.stdout.toString());
      assert.match(text, /^ptybridge_console_up\{console="vm1"\} 1$/m);
    }

    // Chromium through the front door, by its name (mapped to loopback), with the self-signed certificate.
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--host-resolver-rules=MAP consoles.example.com 127.0.0.1'],
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const base = `https://consoles.example.com:${front}`;
    const screen = () =>
      page.evaluate(() => {
        const b = (
          window as unknown as {
            ptybridge: { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(): string } | undefined } } } };
          }
        ).ptybridge.term.buffer.active;
        let text = '';
        for (let i = 0; i < b.length; i++) text += `${b.getLine(i)?.translateToString() ?? ''}\n`;
        return text;
      });
    for (const h of ['a', 'b'] as const) {
      await page.goto(`${base}/${h}/?token=${tokens[h]}`);
      await page.waitForSelector('#live:text("live")'); // the index's script polls its JSON below the prefix
      assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
      assert.match(await page.locator('#consoles tbody tr').first().innerText(), /vm1\s+\/console\/vm1\s+pty \S+\s+open(, booted [^\t]+)?\s+0 peers/);
      await page.click('a[href="./console/vm1"]');
      await page.waitForSelector('#status.connected');
      assert.equal(new URL(page.url()).pathname, `/${h}/console/vm1`);
      await page.waitForFunction(() => document.title !== '');
      await until(async () => (await screen()).includes('login: '), { what: `login: on ${h}'s console page`, detail: screen });
      await page.locator('.xterm').click();
      await page.keyboard.type(`hello-${h}\r`);
      await vms[h]!.waitReceived(`hello-${h}\r`);
      vms[h]!.say(`answer-from-${h}\r\n`);
      await page.waitForFunction((want) => {
        const b = (
          window as unknown as {
            ptybridge: { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(): string } | undefined } } } };
          }
        ).ptybridge.term.buffer.active;
        for (let i = 0; i < b.length; i++) if (b.getLine(i)?.translateToString().includes(want)) return true;
        return false;
      }, `answer-from-${h}`);
    }
    // Host b's session did not replace host a's (proxy_cookie_path): a's console opens without the token.
    await page.goto(`${base}/a/console/vm1`);
    await page.waitForSelector('#status.connected');
    assert.ok(!vms.b!.received().includes('hello-a') && !vms.a!.received().includes('hello-b'), 'each host got its own typing');
  } catch (err) {
    process.stderr.write(`nginx said:\n${nginxErr}\n${running.map((r) => r.stderr()).join('\n')}\n`);
    throw err;
  } finally {
    await browser?.close();
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await once(nginx, 'exit');
    }
    for (const r of running) assert.equal((await r.stop()).code, 0);
    await Promise.all(Object.values(vms).map((v) => v.quit()));
  }
});
