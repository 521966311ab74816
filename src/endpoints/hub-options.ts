// Options every shared device type adds to its schema, read by the hub (src/router/hub.ts).
import { flag, oneOf, size } from '../options.js';

export const POLICIES = ['shared', 'exclusive', 'readonly'] as const;
export type Policy = (typeof POLICIES)[number];

/** Spread into a device type's option schema so that `--help SCHEME` lists them. */
export const hubOptions = {
  policy: oneOf(POLICIES, 'shared', 'behind a listener: who may type; shared: every peer, exclusive: one peer holds the keyboard (the first; any other may take it), readonly: nobody (spy mode)'),
  replay: size(16 * 1024, 'behind a listener: how much recent output a new peer gets first (0: none)', 64 * 1024 * 1024),
  'peer-queue': size(1024 * 1024, 'behind a listener: most output queued for one peer; a peer that falls further behind is dropped', 1024 ** 3),
  'log-input': flag(false, 'behind a listener: also record what each peer types, by name, in the transcript (--log; else on stderr), for audit'),
};

/** The hub's settings as a device spec carries them. */
export interface HubSettings {
  policy: Policy;
  replay: number;
  'peer-queue': number;
  'log-input': boolean;
}

/** Reads the hub settings from any device spec's options, with defaults where a type lacks them. */
export function hubSettingsOf(options: Record<string, unknown>): HubSettings {
  return {
    policy: (options.policy as Policy | undefined) ?? 'shared',
    replay: (options.replay as number | undefined) ?? 16 * 1024,
    'peer-queue': (options['peer-queue'] as number | undefined) ?? 1024 * 1024,
    'log-input': (options['log-input'] as boolean | undefined) ?? false,
  };
}
