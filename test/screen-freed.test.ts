// A console whose screen model was freed after its quiet period gives a ws joiner the same screen, byte for byte, as while it was live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { readText, startFakeVm } from './helpers/devices.js';
import { connectTcp, startPtyb } from './helpers/ptyb.js';
import { until } from './helpers/until.js';
import { TOKEN, wsUrl } from './helpers/ws.js';

const QUIET_MS = 300;
const END = '\x1b[12;5Hend-of-drawing';

/** A screen with history and state: scrollback, colors, a title, a scroll region, the cursor hidden, then a full-screen app. */
function drawing(): Buffer {
  let s = '\x1b]0;freed-title\x07';
  for (let i = 0; i < 60; i++) s += `\x1b[3${i % 8}mline ${i}\x1b[0m é→字\r\n`;
  s += '\x1b[?1049h\x1b[H\x1b[2J\x1b[3;30H\x1b[1;33mBIOS SETUP\x1b[0m\x1b[24;1H\x1b[7mF10 Save\x1b[0m\x1b[2;20r\x1b[?25l';
  return Buffer.from(s + END);
}

/** What a ws joiner is sent first: everything up to the end of the drawing (the screen's serialized form). */
async function join(port: number, upTo: string): Promise<Buffer> {
  const ws = new WebSocket(wsUrl(port), ['binary'], { perMessageDeflate: false });
  const chunks: Buffer[] = [];
  ws.on('message', (d: Buffer) => chunks.push(Buffer.from(d)));
  try {
    await until(() => Buffer.concat(chunks).includes(upTo), { timeout: 15_000, what: `the joiner to get ${JSON.stringify(upTo)}` });
    return Buffer.concat(chunks);
  } finally {
    ws.terminate();
  }
}

test('a console idle past its quiet period (model freed) gives a ws joiner the exact bytes it gave while live; output after it lands on the same screen', {
  timeout: 60_000,
}, async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}`, 'tcp-listen:0', `ws-listen:0?token=${TOKEN}`], {
    listeners: 2,
    env: { ...process.env, PTYBRIDGE_SCREEN_QUIET_MS: String(QUIET_MS) },
  });
  try {
    const [tcp, web] = pb.listening;
    const watcher = await connectTcp(tcp!.port);
    // In the hub before the drawing, so that it reads the live bytes (ptybridge accepts after the client's 'connect').
    await pb.logged(/connected \(1 peer\)/, 'the watcher in the hub');
    vm.say(drawing());
    await readText(watcher, 'end-of-drawing');
    const live = await join(web!.port, 'end-of-drawing');
    assert.ok(live.subarray(0, 2).equals(Buffer.from('\x1bc')), 'the screen, not the byte history');
    // Several quiet periods: the model is freed; the next joiner is answered from what was kept.
    // The point: idle for several quiet periods (the freeing has no outside sign; test/unit/screen-model.test.ts sees it).
    await new Promise((r) => setTimeout(r, QUIET_MS * 5));
    const freed = await join(web!.port, 'end-of-drawing');
    assert.equal(freed.toString('latin1'), live.toString('latin1'));
    // Output after the freeing: the screen is rebuilt and drawn on; twice over the quiet period, the same answer.
    vm.say(Buffer.from('\x1b[5;1Hafter'));
    await readText(watcher, 'after');
    const rebuilt = await join(web!.port, 'after');
    await new Promise((r) => setTimeout(r, QUIET_MS * 5)); // idle again, as above
    assert.equal((await join(web!.port, 'after')).toString('latin1'), rebuilt.toString('latin1'));
    watcher.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});
