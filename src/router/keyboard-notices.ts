// Tells a hub's peers where the keyboard is: once a tick, and only those whose view of it changed.
import type { Keyboard } from './keyboard.js';
import type { Peer } from './peer.js';
import { describeKeyboard } from '../core/roles.js';

/**
 * A page redraws its badge (its own state, the holder, the counts); any other peer gets a
 * line only when its own state or the holder changed. However many joins, leaves and
 * requests come in one tick, the peers are told once after it: everyone when the holder
 * moved, else the pages (their counts) and the peers named in the tick. So a join or a
 * leave costs the same with five peers or five thousand, pages aside.
 */
export class KeyboardNotices {
  /** Peers that show the keyboard state as it is (a page, a ws: client that asked). */
  private readonly followers = new Set<Peer>();
  private readonly pending = new Set<Peer>();
  private scheduled = false;
  private stopped = false;
  /** The holder as the peers were last told. */
  private toldHolder: Peer | undefined;

  constructor(
    private readonly keyboard: Keyboard,
    private readonly peers: ReadonlySet<Peer>,
  ) {}

  /** The peer shows the state as it is from now on (it asked, or joined asking). */
  follow(peer: Peer): void {
    this.followers.add(peer);
  }

  forget(peer: Peer): void {
    this.followers.delete(peer);
    this.pending.delete(peer);
  }

  /** Something changed (a join, a leave, a request); `peer`, if given, is told where it stands. */
  announce(peer?: Peer): void {
    if (peer) this.pending.add(peer);
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => this.tell());
  }

  /** The hub closes: nobody is told anything more. */
  stop(): void {
    this.stopped = true;
  }

  private tell(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const tell = (p: Peer) => {
      const state = this.keyboard.state(p);
      p.tell(state, () => describeKeyboard(state));
    };
    if (this.keyboard.holder !== this.toldHolder) {
      this.toldHolder = this.keyboard.holder;
      for (const p of this.peers) tell(p);
    } else {
      for (const p of this.followers) tell(p);
      for (const p of this.pending) if (!this.followers.has(p) && !p.left) tell(p);
    }
    this.pending.clear();
  }
}
