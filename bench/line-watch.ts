// What the virtual serial port (pty: new pair, line-watch) costs: CPU of one read of the slave's settings (stty on our fd), ours and stty's.
// Run: node --import tsx bench/line-watch.ts
import fs from 'node:fs';
import { sttyFd } from '../src/endpoints/tty-fd.js';
import { loadPtyNative } from '../src/native.js';
const { slave } = loadPtyNative().open(80, 24);
const ticks = () => {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return f.slice(11, 15).map(Number);
};
const N = 300;
await sttyFd(slave, ['-a']);
const t0 = ticks();
const c0 = process.cpuUsage();
const w0 = Date.now();
for (let i = 0; i < N; i++) await sttyFd(slave, ['-a']);
const t1 = ticks();
const c = process.cpuUsage(c0);
const own = (c.user + c.system) / 1000 / N;
const kids = ((t1[2]! - t0[2]! + (t1[3]! - t0[3]!)) * 10) / N;
console.log(`per read: ${own.toFixed(2)} ms ptybridge CPU + ${kids.toFixed(2)} ms stty CPU, ${((Date.now() - w0) / N).toFixed(2)} ms wall`);
console.log(`idle (1/s): ${((own + kids) / 10).toFixed(2)} % of a core; active (5/s): ${((own + kids) / 2).toFixed(2)} %`);
process.exit(0);
