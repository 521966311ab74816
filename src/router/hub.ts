// The hub: one shared device, many peers (DESIGN §3). The devices issue builds it.
import { RouteError } from '../errors.js';
import type { ConnectingType, ListeningType, OpenContext, Spec } from '../endpoints/types.js';
import type { Route, RouteContext } from './route.js';

export async function runHub(
  device: { type: ConnectingType; spec: Spec },
  listening: { type: ListeningType; spec: Spec },
  _ctx: RouteContext,
  _openCtx: OpenContext,
  _abort: AbortController,
): Promise<Route> {
  throw new RouteError(`${device.spec.uri} is a shared device; sharing it with ${listening.spec.uri} needs the hub, which is not built yet`);
}
