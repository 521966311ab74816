// A lost wakeup in serialport's poller: a write waiting for the port to drain was forgotten once a read began waiting, and vice versa.

/** The event bits of @serialport/bindings-cpp's Poller (libuv's UV_READABLE, UV_WRITABLE, UV_DISCONNECT). */
const EVENTS = { readable: 1, writable: 2, disconnect: 4 } as const;

interface Poller {
  poll(flag?: number): void;
  listenerCount(event: string): number;
}

/**
 * Makes the port's poller watch every event somebody waits for, not only the latest asked.
 *
 * Why: @serialport/bindings-cpp (13.0.0, src/poller.cpp) starts its libuv poll with only the
 * events of each call (`uv_poll_start(handle, events)`), which replaces what was watched. A
 * write that met a full port waits for "writable"; when a read then finds nothing and waits
 * for "readable", the port is watched for reading only, and the write is woken only if bytes
 * arrive. A device that has said all it had to say, and waits for ours, never sends them: the
 * write waits forever (seen: 80 KiB of a program's bytes held behind a virtual port, the
 * port's fd in epoll for EPOLLIN alone). The same holds the other way round, a read forgotten
 * behind a write. Here each call asks for its own event and for those whose listeners still
 * wait (`once` polls before it adds its listener, so its own event comes in `flag`).
 * Returns false when the binding has no poller of that shape (another platform or version):
 * then nothing is changed.
 */
export function pollEveryWaiter(binding: unknown): boolean {
  const poller = (binding as { poller?: Poller } | undefined)?.poller;
  if (!poller || typeof poller.poll !== 'function' || typeof poller.listenerCount !== 'function') return false;
  const poll = poller.poll.bind(poller);
  poller.poll = (flag = 0) => {
    let events = flag;
    for (const [name, bit] of Object.entries(EVENTS)) if (poller.listenerCount(name) > 0) events |= bit;
    poll(events);
  };
  return true;
}
