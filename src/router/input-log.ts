// ?log-input: what each peer typed, attributed, as transcript lines — a line per Enter, not per keystroke.
import type { Peer } from './peer.js';

/** Most bytes held for one peer before they are written out anyway. */
const MAX_HELD = 256;
/** A peer that stops typing mid-line has its text written out after this long. */
const IDLE_MS = 2000;

/**
 * A browser sends each keystroke as its own message: recorded as they come, a command would
 * take a line per letter. Bytes are held per peer until Enter, another peer's input, a pause
 * or the peer's leaving, then written as one event with the bytes JSON-quoted (control
 * characters and escape sequences stay visible and cannot forge a transcript line).
 */
export class InputLog {
  private readonly held = new Map<Peer, { bytes: Buffer[]; length: number; timer: NodeJS.Timeout }>();

  constructor(private readonly record: (line: string) => void) {}

  typed(peer: Peer, chunk: Buffer): void {
    for (const other of this.held.keys()) if (other !== peer) this.flush(other);
    let h = this.held.get(peer);
    if (!h) {
      h = { bytes: [], length: 0, timer: setTimeout(() => this.flush(peer), IDLE_MS) };
      h.timer.unref();
      this.held.set(peer, h);
    }
    h.bytes.push(Buffer.from(chunk));
    h.length += chunk.length;
    if (h.length >= MAX_HELD || chunk.includes(13) || chunk.includes(10)) this.flush(peer);
  }

  flush(peer: Peer): void {
    const h = this.held.get(peer);
    if (!h) return;
    this.held.delete(peer);
    clearTimeout(h.timer);
    this.record(`${peer.who} typed ${JSON.stringify(Buffer.concat(h.bytes).toString('utf8'))}`);
  }
}
