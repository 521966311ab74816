// Who may type into a hub's device now: the policy, each peer's role, and under `exclusive` the one keyboard that is handed over.
import type { Policy } from '../endpoints/hub-options.js';
import type { Peer } from './peer.js';
import type { KeyboardState } from './roles.js';

/**
 * conserver's rules, with its words: a `view` peer (a read-only door, a view token) is a spy
 * and never types; under `shared` every other peer types; under `exclusive` one peer holds
 * the keyboard (attach), any peer that may type can take it (force), and the holder can
 * let it go (spy). A keyboard nobody holds goes to the first such peer that joins or types;
 * when the holder leaves, to the earliest one still connected.
 */
export class Keyboard {
  holder: Peer | undefined;

  constructor(readonly policy: Policy) {}

  /** Whether this peer may ever type (its role and the policy). */
  mayType(p: Peer): boolean {
    return this.policy !== 'readonly' && p.role === 'full';
  }

  /** Whether this peer's input goes to the device now. */
  mayWrite(p: Peer): boolean {
    return this.doing(p) === 'typing';
  }

  doing(p: Peer): KeyboardState['you'] {
    if (!this.mayType(p)) return 'read-only';
    return this.policy === 'shared' || this.holder === p ? 'typing' : 'watching';
  }

  /** A peer joined (peers in arrival order, it included). */
  joined(p: Peer): void {
    if (this.policy === 'exclusive' && this.holder === undefined && this.mayType(p)) this.holder = p;
  }

  /** A peer left; returns who holds the keyboard now if it moved. */
  left(p: Peer, peers: Iterable<Peer>): Peer | undefined {
    if (this.holder !== p) return undefined;
    this.holder = undefined;
    for (const q of peers) {
      if (q !== p && this.mayType(q)) {
        this.holder = q;
        return q;
      }
    }
    return undefined;
  }

  /**
   * `take`: the peer holds the keyboard (returns the previous holder, or null when there was
   * none); `release`: it lets go. Undefined when nothing changes.
   */
  request(p: Peer, what: 'take' | 'release'): Peer | null | undefined {
    if (this.policy !== 'exclusive' || !this.mayType(p)) return undefined;
    if (what === 'release') {
      if (this.holder !== p) return undefined;
      this.holder = undefined;
      return null;
    }
    if (this.holder === p) return undefined;
    const before = this.holder ?? null;
    this.holder = p;
    return before;
  }

  /** What `p` is shown: its own state, who holds the keyboard, how many watch. */
  state(p: Peer, peers: Set<Peer>): KeyboardState {
    let typing = 0;
    for (const q of peers) if (this.doing(q) === 'typing') typing++;
    const s: KeyboardState = { type: 'keyboard', you: this.doing(p), policy: this.policy, watching: peers.size - typing, peers: peers.size };
    if (p.user !== undefined) s.name = p.user;
    if (this.holder) s.holder = this.holder.who;
    return s;
  }
}
