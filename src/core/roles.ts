// Who may type: a peer's role, the hub's policy, and the keyboard state every kind of peer is shown.

/**
 * What a peer may do: `full` types (when the policy and the keyboard let it), `view` only
 * watches. conserver's terms: `view` is spy mode, `full` is attach (and force, by taking the
 * keyboard).
 */
export type Role = 'full' | 'view';

export const POLICIES = ['shared', 'exclusive', 'readonly'] as const;
/** Who may type on a hub: every peer, one holder of the keyboard, or nobody. */
export type Policy = (typeof POLICIES)[number];

/** What a peer is shown about the keyboard: sent as JSON to a page, as a line to a telnet peer. */
export interface KeyboardState {
  type: 'keyboard';
  /** This peer: typing, watching (may take the keyboard), or read-only (may never type). */
  you: 'typing' | 'watching' | 'read-only';
  /** This peer's name, when it has one. */
  name?: string;
  policy: Policy;
  /** Under `exclusive`: who holds the keyboard (a name, or the peer's address); absent when nobody does. */
  holder?: string;
  /** Peers that are not typing now, and all peers. */
  watching: number;
  peers: number;
}

/** The one line a peer without a page (telnet, raw TCP, a terminal) is told when its keyboard state changes. */
export function describeKeyboard(s: KeyboardState): string {
  if (s.you === 'read-only') return 'read-only: you are watching';
  if (s.you === 'typing') return s.policy === 'exclusive' ? 'you have the keyboard' : 'you may type';
  return s.holder ? `${s.holder} has the keyboard; you are watching` : 'nobody has the keyboard; type to take it';
}
