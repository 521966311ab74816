// The console examples: consoles-loopback.yaml runs (on free ports) with telnet and transcripts; consoles.yaml passes --check.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, connectTcp, freePort, readUntil, runPtyb, startPtyb, tcpServer } from './helpers/ptyb.js';
import { escapeData } from '../src/protocols/telnet.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-examples-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('examples/consoles-loopback.yaml: three consoles, two of them telnet with a transcript', async () => {
  const ups = await Promise.all(
    [1, 2, 3].map((n) =>
      tcpServer((s) => {
        s.write(`console-${n}> `);
        s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
      }),
    ),
  );
  // The example's fixed ports, swapped for free ones; its /tmp logs moved into our directory.
  let text = readFileSync(join(ROOT, 'examples/consoles-loopback.yaml'), 'utf8');
  for (let n = 1; n <= 3; n++)
    text = text.replace(`127.0.0.1:1710${n}`, `127.0.0.1:${ups[n - 1]!.port}`).replace(`tcp-listen:1700${n}`, `tcp-listen:${await freePort()}`);
  text = text.replaceAll('/tmp/', `${dir}/`);
  const file = join(dir, 'consoles.yaml');
  writeFileSync(file, text);
  const pb = await startPtyb(['--config', file], { listeners: 3 });
  try {
    for (const [i, l] of pb.listening.entries()) {
      const c = await connectTcp(l.port);
      await readUntil(c, `console-${i + 1}> `);
      // The telnet routes read escaped input; "hello" has no IAC or CR, so it is the same bytes.
      c.write(escapeData(Buffer.from('hello'), true));
      await readUntil(c, 'HELLO');
      c.destroy();
    }
  } finally {
    await pb.stop();
    await Promise.all(ups.map((u) => u.close()));
  }
  const alpha = readFileSync(join(dir, 'ptybridge-alpha.log'), 'utf8');
  assert.match(alpha, /^\[\S+Z\] --- tcp \S+ telnet connected to tcp \S+ ---\n\[\S+Z\] console-1> HELLO\n\[\S+Z\] --- tcp \S+ telnet left ---\n$/);
});

test('examples/consoles.yaml (the ser2net replacement) passes --check', async () => {
  const r = await runPtyb(['--config', join(ROOT, 'examples/consoles.yaml'), '--check']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /^switch1: hub: one shared device, 1 door$/m);
  assert.match(r.stdout.toString(), /policy=exclusive/);
  assert.match(
    r.stdout.toString(),
    /^vm2: hub: one shared device, 1 door\n.*\n  door      ws-listen:127\.0\.0\.1:8080\/console\/vm2\?token-file=\/etc\/ptybridge\/web-token /m,
    'the VMs share one web port by path',
  );
});
