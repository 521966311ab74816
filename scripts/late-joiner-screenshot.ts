// Takes docs/late-joiner.png: a full-screen app is drawn on a pty console, then a browser joins late and shows it whole.
// Run: npm run build:js && node --import tsx scripts/late-joiner-screenshot.ts
import path from 'node:path';
import { launch } from '../test/helpers/browser.js';
import { startFakeVm } from '../test/helpers/devices.js';
import { ROOT, connectTcp, startPtyb } from '../test/helpers/ptyb.js';
import { readText } from '../test/helpers/devices.js';

const vm = await startFakeVm();
const pb = await startPtyb([`pty:${vm.slave}`, 'tcp-listen:0', 'ws-listen:0?token=docs'], { listeners: 2 });
const browser = await launch();
try {
  const watcher = await connectTcp(pb.listening[0]!.port);
  let s = '\x1b]0;vm1: setup\x07\x1b[?1049h\x1b[44m\x1b[2J\x1b[1;1H\x1b[1;37m  Setup Utility - Copyright (C) 1985-2026\x1b[K';
  s += '\x1b[3;28H\x1b[1;33m Boot Configuration \x1b[0;44;37m';
  const rows = [
    'Boot mode        [UEFI]',
    'Secure boot      [Enabled]',
    'Boot order 1     [Hard disk]',
    'Boot order 2     [Network]',
    'Serial console   [ttyS0 115200]',
  ];
  rows.forEach((r, i) => (s += `\x1b[${6 + i * 2};8H${i === 2 ? '\x1b[30;47m' : ''}${r}\x1b[0;44;37m`));
  s += '\x1b[24;1H\x1b[30;46m F1 Help  Arrows Select  Enter Change  F10 Save and exit  Esc Quit\x1b[K\x1b[0;44;37m';
  for (let i = 0; i <= 3000; i++) s += `\x1b[1;66H\x1b[1;37m07:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`;
  vm.say(s + '\x1b[10;25H');
  await readText(watcher, '\x1b[10;25H');
  watcher.destroy();
  const page = await browser.newPage({ viewport: { width: 700, height: 450 } });
  await page.goto(`http://127.0.0.1:${pb.listening[1]!.port}/?token=docs`);
  await page.waitForSelector('#status.connected');
  await new Promise((r) => setTimeout(r, 500));
  await page.screenshot({ path: path.join(ROOT, 'docs/late-joiner.png') });
} finally {
  await browser.close();
  await pb.stop();
  await vm.quit();
}
