// serial: puts the port's settings back when it stops (SIGTERM), from the command line and from --config, as pty: does.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeVm } from './helpers/devices.js';
import { runTool, startPtyb } from './helpers/ptyb.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-serial-restore-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sttyAll = async (dev: string) => {
  const r = await runTool('stty', ['-a', '-F', dev]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.toString();
};

for (const how of ['command line', '--config'] as const) {
  test(`serial: (${how}): stty -a after SIGTERM equals stty -a before the start`, async () => {
    // A pty stands in for the port (its slave keeps termios settings as a UART's driver does).
    const vm = await startFakeVm();
    try {
      // What a login console leaves on a port: cooked, echo, output processing, 9600.
      const set = await runTool('stty', ['-F', vm.slave, 'sane', '9600', 'icanon', 'echo', 'opost']);
      assert.equal(set.code, 0, set.stderr);
      const before = await sttyAll(vm.slave);
      const uri = `serial:${vm.slave}?line=115200,8n1`;
      let args = [uri, 'tcp-listen:0'];
      if (how === '--config') {
        const file = join(dir, 'serial.yaml');
        writeFileSync(file, ['version: 1', 'routes:', '  - name: port', `    left: ${uri}`, '    right: tcp-listen:0', ''].join('\n'));
        args = ['--config', file];
      }
      const pb = await startPtyb(args);
      try {
        const during = await sttyAll(vm.slave);
        assert.match(during, /speed 115200 baud/, 'the port runs at the speed asked for');
        assert.match(during, /-icanon/, 'and raw');
      } finally {
        const exit = await pb.stop('SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null }, pb.stderr());
      }
      assert.equal(await sttyAll(vm.slave), before, 'the settings from before the start are back');
    } finally {
      await vm.quit();
    }
  });
}
