// The route planner in-process: each shape from the command line and a config file, and the property that --check accepts exactly what a run does not refuse.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { PtybError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';

// The registry reaches the web page's bundled assets; stand them in before loading it.
register(new URL('../helpers/stub-web-assets.mjs', import.meta.url));
const { parseEndpoint } = await import('../../src/endpoints/registry.js');
const { describePlan, planAddresses } = await import('../../src/plan/plan.js');
const { loadConfig } = await import('../../src/config.js');
const { startAddresses, startRoute } = await import('../../src/router/route.js');

// Each run starts real routes: a fiftieth of the fuzz knob (60 by default).
const RUNS = fuzzRuns(1 / 50);
const dir = mkdtempSync(join(tmpdir(), 'ptyb-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const plan = (...uris: string[]) => planAddresses(uris.map((u) => parseEndpoint(u)));

test("the shape follows the roles and the connecting end's sharing", () => {
  assert.equal(plan('tcp:127.0.0.1:1', 'exec:true').kind, 'pipe');
  assert.equal(plan('tcp-listen:0', 'tcp:127.0.0.1:1').kind, 'fork');
  assert.equal(plan('tcp-listen:0', 'tcp-listen:0').kind, 'rendezvous');
  assert.equal(plan('tcp:127.0.0.1:1?share', 'tcp-listen:0').kind, 'hub');
  assert.equal(plan('exec:true', 'tcp-listen:0').kind, 'fork', 'exec: is per-peer unless ?share');
  const hub = plan('file:/dev/null', 'tcp-listen:0', 'unix-listen:/tmp/x.sock?readonly');
  assert.equal(hub.kind, 'hub');
  assert.deepEqual(hub.kind === 'hub' && hub.doors.map((d) => d.spec.uri), ['tcp-listen:0', 'unix-listen:/tmp/x.sock?readonly']);
  // A door written second still knows it: the hex trace is mirrored for it.
  const fork = plan('tcp:127.0.0.1:1', 'tcp-listen:0');
  assert.equal(fork.kind === 'fork' && fork.doorIsRight, true);
});

test('shapes that cannot work are refused with one line (exit 2), before anything opens', () => {
  const refused = (uris: string[], message: string) => {
    assert.throws(
      () => plan(...uris),
      (err: PtybError) => {
        assert.equal(err.exitCode, 2);
        assert.equal(err.message, message);
        return true;
      },
    );
  };
  refused(['stdio:', 'stdio:'], 'stdio: and stdio: both use stdio; one process has only one');
  refused(
    ['tcp-listen:0?readonly', 'tcp:127.0.0.1:1'],
    'tcp-listen:0?readonly: ?readonly is for the listeners of a shared device (pty:, serial:, file:, exec:…?share); here each peer gets its own connection, with nothing to watch',
  );
  refused(
    ['tcp-listen:0', 'ws-listen:0?token=t&view-token=abc'],
    'ws-listen:0?token=…&view-token=…: view-token= is for the listeners of a shared device (pty:, serial:, file:, exec:…?share); here each peer gets its own connection, with nothing to watch',
  );
  refused(
    ['exec:true?replay=0', 'tcp-listen:0'],
    'exec:true?replay=0: option "replay" has no effect here: it applies to a shared device behind a listener (add ?share)',
  );
  refused(
    ['tcp:127.0.0.1:1', 'tcp-listen:0', 'tcp-listen:0'],
    'with more than two addresses, the first must be a shared device (pty:, serial:, file:, stdio:, exec:…?share, unix:…?share, tcp:…?share, tls:…?share) and every other one a listener (tcp-listen:, tls-listen:, ws-listen:, unix-listen:, udp-listen:); tcp:127.0.0.1:1 is opened once per peer, not shared',
  );
  refused(
    ['file:/dev/null', 'tcp-listen:0', 'exec:true'],
    'with more than two addresses, the first must be a shared device (pty:, serial:, file:, stdio:, exec:…?share, unix:…?share, tcp:…?share, tls:…?share) and every other one a listener (tcp-listen:, tls-listen:, ws-listen:, unix-listen:, udp-listen:); exec:true is not a listener',
  );
});

test("describePlan: the kind, each address in its role, and a hub's settings", () => {
  assert.deepEqual(
    describePlan(plan('tcp:127.0.0.1:1?share&policy=exclusive&replay=4k', 'tcp-listen:0')).map((l) => l.replace(/  \[.*\]$/, '')),
    [
      'hub: one shared device, 1 door',
      '  device    tcp:127.0.0.1:1?share&policy=exclusive&replay=4k',
      '  door      tcp-listen:0',
      '  hub       policy exclusive, replay bytes (last 4k), peer-queue 1M, max-peers 1024, log-input off',
    ],
  );
  assert.deepEqual(
    describePlan(plan('tcp-listen:0', 'tcp-listen:1')).map((l) => l.replace(/  \[.*\]$/, '')),
    ['rendezvous: peers of the two doors paired in arrival order', '  door      tcp-listen:0', '  door      tcp-listen:1'],
  );
});

/** Addresses a route may be built from: devices and per-peer ends, hub options where they do nothing, read-only doors where nobody watches. */
const CONNECTING = [
  'tcp:127.0.0.1:1',
  'tcp:127.0.0.1:1?share',
  'tcp:127.0.0.1:1?replay=0',
  'tcp:127.0.0.1:1?share&policy=exclusive',
  'exec:true',
  'exec:true?share',
  'exec:true?log-input',
];
const LISTENING = ['tcp-listen:127.0.0.1:0', 'tcp-listen:127.0.0.1:0?readonly', 'ws-listen:127.0.0.1:0?token=t&view-token=v', 'unix-listen:SOCK'];
const address = fc.constantFrom(...CONNECTING, ...LISTENING);
const route = fc.oneof(fc.record({ left: address, right: address }), fc.record({ device: address, doors: fc.array(address, { minLength: 1, maxLength: 3 }) }));

/** Each unix socket its own path, so that two doors never clash on one. */
let sockets = 0;
const place = (uri: string) => uri.replace('SOCK', () => join(dir, `s${sockets++}.sock`));

/** Whether a start is refused for the route's shape (exit 2), or gets past the shape (it may still fail to open: exit 1). */
async function startRefused(uris: string[], hubForm: boolean): Promise<boolean> {
  const ctx = { log: createLogger('error', () => {}), waitForDevice: true };
  try {
    const endpoints = uris.map((u) => parseEndpoint(u));
    const r = hubForm ? await startAddresses(endpoints, ctx) : await startRoute(endpoints[0]!, endpoints[1]!, ctx);
    await r.stop();
    return false;
  } catch (err) {
    if (err instanceof PtybError && err.exitCode === 2) return true;
    if (err instanceof PtybError) return false;
    throw err;
  }
}

test('property: a config route passes --check exactly when its run is not refused for its shape', { timeout: 120_000 }, async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(route, async (r) => {
      const hubForm = 'device' in r;
      const uris = (hubForm ? [r.device, ...r.doors] : [r.left, r.right]).map(place);
      const yaml = hubForm
        ? ['  - name: r', `    device: "${uris[0]}"`, '    doors:', ...uris.slice(1).map((u) => `      - "${u}"`)]
        : ['  - name: r', `    left: "${uris[0]}"`, `    right: "${uris[1]}"`];
      const file = join(dir, `r${n++}.yaml`);
      writeFileSync(file, ['version: 1', 'routes:', ...yaml, ''].join('\n'));
      let checked = true;
      try {
        loadConfig(file);
      } catch {
        checked = false;
      }
      // A device with one door is the command line's pair; with more, DEVICE LISTENER….
      const refused = await startRefused(uris, hubForm && uris.length > 2);
      if (hubForm && uris.length === 2 && !refused && checked) return; // both accept
      if (hubForm && uris.length === 2 && !checked) return; // a config device must be shared even with one door: stricter than a pair, never looser
      assert.equal(checked, !refused, `${uris.join(' ')}: --check ${checked ? 'accepts' : 'refuses'}, the run ${refused ? 'refuses' : 'starts'}`);
    }),
    { numRuns: RUNS },
  );
});
