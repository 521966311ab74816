// Where a hub's history goes (?history=DIR, or --history ROOT and the console's name) and opening it.
import { join, resolve } from 'node:path';
import type { HubSettings } from '../core/hub-settings.js';
import type { Spec } from '../core/endpoint.js';
import { UsageError } from '../errors.js';
import { redactSecrets, splitAddress } from '../uri.js';
import type { RouteContext } from './doors.js';
import { historyDirName, openHistory, type History } from './history.js';

/**
 * The console's name in its history: the route's name in a config file, else its console
 * API name (a ws-listen door's path without `/`), else the device's address.
 */
export function historyConsoleName(device: Spec, doors: { spec: Spec }[], ctx: RouteContext): string {
  if (ctx.name !== undefined) return ctx.name;
  for (const d of doors) {
    const path = d.spec.scheme === 'ws-listen' || d.spec.scheme === 'wss-listen' ? (d.spec.target as { path?: string }).path : undefined;
    if (path && path !== '/') return path.replace(/^\/+/, '');
  }
  // The address without its options: they say how, not which.
  return redactSecrets(device.uri).replace(/\?.*$/s, '');
}

/** Opens the history a hub keeps, if any: ?history=DIR wins over the route's --history ROOT. */
export async function historyFor(device: Spec, doors: { spec: Spec }[], settings: HubSettings, ctx: RouteContext): Promise<History | undefined> {
  const name = historyConsoleName(device, doors, ctx);
  const dir =
    settings.history.dir !== undefined
      ? resolve(settings.history.dir)
      : ctx.history !== undefined
        ? join(resolve(ctx.history), historyDirName(name))
        : undefined;
  if (dir === undefined) {
    // Never ignore an option the user wrote: these do nothing without a history.
    const written = ['history-max', 'mark'].find((k) => splitAddress(device.uri).query.has(k));
    if (written) throw new UsageError(`${redactSecrets(device.uri)}: option "${written}" has no effect without ?history=DIR (or --history ROOT)`);
    return undefined;
  }
  return openHistory({
    dir,
    console: name,
    max: settings.history.max,
    ...(settings.history.mark ? { mark: settings.history.mark } : {}),
    logInput: settings['log-input'],
    size: settings.size,
    log: ctx.log,
  });
}
