// Who may type into a hub's device now: the policy, each peer's role, and under `exclusive` the one keyboard that is handed over.
import type { KeyboardState, Policy } from '../core/roles.js';
import type { Peer } from './peer.js';

/**
 * conserver's rules, with its words: a `view` peer (a read-only door, a view token) is a spy
 * and never types; under `shared` every other peer types; under `exclusive` one peer holds
 * the keyboard (attach), any peer that may type can take it (force), and the holder can
 * let it go (spy). A keyboard nobody holds goes to the first such peer that joins or types;
 * when the holder leaves, to the earliest one still connected.
 */
export class Keyboard {
  holder: Peer | undefined;
  /**
   * The peers that may type, in arrival order: the next holder is the first of them, and
   * the counts a page shows come from its size, so that a join or a leave costs the same
   * with five peers or five thousand.
   */
  private readonly typists = new Set<Peer>();
  private all = 0;

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
    this.all++;
    if (!this.mayType(p)) return;
    this.typists.add(p);
    if (this.policy === 'exclusive' && this.holder === undefined) this.holder = p;
  }

  /** A peer left; returns who holds the keyboard now if it moved. */
  left(p: Peer): Peer | undefined {
    this.all--;
    this.typists.delete(p);
    if (this.holder !== p) return undefined;
    const next: Peer | undefined = this.typists.values().next().value;
    this.holder = next;
    return next;
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

  /** How many peers type now. */
  private typing(): number {
    if (this.policy === 'shared') return this.typists.size;
    return this.holder ? 1 : 0;
  }

  /** What `p` is shown: its own state, who holds the keyboard, how many watch (kept as counts, never recounted). */
  state(p: Peer): KeyboardState {
    const s: KeyboardState = { type: 'keyboard', you: this.doing(p), policy: this.policy, watching: this.all - this.typing(), peers: this.all };
    if (p.user !== undefined) s.name = p.user;
    if (this.holder) s.holder = this.holder.who;
    return s;
  }
}
