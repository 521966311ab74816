// WebSocket framing on the send side: single bytes are never held back for coalescing, and a pty's bursts leave as whole frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { acceptOne, startPtyb } from './helpers/ptyb.js';
import { openWs } from './helpers/ws.js';

test('tcp → ws: 200 single bytes, each sent only after the last arrived, each arrives alone in its own frame', { timeout: 120_000 }, async () => {
  const up = await acceptOne();
  const pb = await startPtyb(['ws-listen:0?token=frames', `tcp:127.0.0.1:${up.port}`]);
  try {
    const ws = await openWs(`ws://127.0.0.1:${pb.listening[0]!.port}/?token=frames`, { protocols: ['binary'] });
    const upstream = await up.first;
    for (let i = 0; i < 200; i++) {
      // Nothing else is pending, so nothing may wait for more: a held byte would hang here.
      const frame = once(ws, 'message');
      upstream.write(Buffer.from([i & 255]));
      const [data] = (await frame) as [Buffer];
      assert.deepEqual([...data], [i & 255]);
    }
    ws.close();
    upstream.destroy();
  } finally {
    await pb.stop();
    await up.close();
  }
});
