// The config file in-process: each route becomes a plan (src/plan/plan.ts), with a device and several doors as one hub.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigError } from '../../src/errors.js';

register(new URL('../helpers/stub-web-assets.mjs', import.meta.url));
const { describeRoutes, loadConfig } = await import('../../src/config.js');

const dir = mkdtempSync(join(tmpdir(), 'ptyb-unit-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (lines: string[]) => {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, ['version: 1', 'routes:', ...lines, ''].join('\n'));
  return f;
};

test("device and doors: one hub; options.policy is the device's; left and right: the pair's plan", () => {
  const routes = loadConfig(
    file([
      '  - name: vm',
      '    device: "tcp:127.0.0.1:1?share"',
      '    doors: [tcp-listen:0, "unix-listen:/tmp/ptyb-never.sock?readonly"]',
      '    options: {policy: exclusive}',
      '  - name: fwd',
      '    left: tcp-listen:0',
      '    right: tcp:127.0.0.1:1',
    ]),
  );
  const [vm, fwd] = routes;
  assert.equal(vm!.plan.kind, 'hub');
  assert.ok(vm!.plan.kind === 'hub' && vm!.plan.doors.length === 2 && vm!.plan.settings.policy === 'exclusive');
  assert.equal(fwd!.plan.kind, 'fork');
  const out = describeRoutes(routes).split('\n');
  assert.equal(out[0], 'vm: hub: one shared device, 2 doors');
  assert.match(out[1]!, /^  device    tcp:127\.0\.0\.1:1\?share  \[.*policy=exclusive.*\]$/);
  assert.equal(out[4], '  hub       policy exclusive, replay bytes (last 16k), peer-queue 1M, max-peers 1024, log-input off');
  assert.equal(out[5], 'fwd: fork: each peer gets its own upstream');
  assert.notEqual(vm!.key, fwd!.key);
});

test('two doors of one route on one address are a clash, named by their keys', () => {
  const f = file(['  - name: vm', '    device: "file:/dev/null"', '    doors: ["tcp-listen:127.0.0.1:7999", "tcp-listen:127.0.0.1:7999"]']);
  assert.throws(
    () => loadConfig(f),
    (err: ConfigError) => {
      assert.equal(err.exitCode, 2);
      assert.match(
        err.message,
        /routes\[0\]\.doors\[1\]: tcp-listen:127\.0\.0\.1:7999 binds tcp 127\.0\.0\.1:7999, as routes\[0\]\.doors\[0\] does at .*:5:\d+; one of them would fail with EADDRINUSE$/,
      );
      return true;
    },
  );
});
