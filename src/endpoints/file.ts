// file: — a file as a link: its content is read and sent, the other side's bytes are written to it.
import type { OptionsOf } from '../core/option-schema.js';
import fs from 'node:fs';
import { Duplex } from 'node:stream';
import { EndpointError, UsageError } from '../errors.js';
import { duration, fileMode, flag, defineOptions } from '../options.js';
import { quoteUri } from '../uri.js';
import type { Logger } from '../log.js';
import type { ConnectingType } from '../core/endpoint.js';

const CHUNK = 64 * 1024;

const fileOptions = defineOptions({
  create: flag(false, 'create the file when it is missing'),
  excl: flag(false, 'with ?create: fail (EEXIST) when the path exists already, a planted symlink included (O_EXCL)'),
  nofollow: flag(false, 'fail (ELOOP) when the path is a symlink instead of following it (O_NOFOLLOW); use it in shared directories such as /tmp'),
  mode: fileMode('permissions of a file that ?create makes (default: 0666 less the umask)'),
  truncate: flag(false, 'empty the file when opening it'),
  append: flag(false, 'write at the end of the file even while others write to it too (O_APPEND)'),
  follow: flag(false, 'at the end, wait for the file to grow and send what is added (tail -f); implies readonly'),
  poll: duration(500, 'with ?follow: how often to look at the file when no change event came'),
  readonly: flag(false, 'only read: bytes from the other side are discarded'),
  writeonly: flag(false, 'only write: nothing is read, the other side gets an end at once'),
});
type FileOptions = OptionsOf<typeof fileOptions>;

export const file: ConnectingType<string, typeof fileOptions> = {
  scheme: 'file',
  role: 'connecting',
  sharing: 'device',
  summary: 'read a file and send it; write what comes back into it',
  targetForm: '/path',
  examples: [
    'ptybridge file:/tmp/firmware.bin tcp:127.0.0.1:9000',
    "ptybridge - 'file:/tmp/capture.log?create&nofollow&writeonly&append'",
    'ptybridge file:/var/log/console.log?follow tcp:localhost:7000',
  ],
  notes: [
    'Reading sends the file from its start up to its size when opened, then ends (half-close),',
    'unless ?follow. Bytes from the other side are written after the content the file had',
    'when opened (never over it); ?truncate empties it first, ?append always writes at the',
    'end. The file is opened read-write unless ?readonly or ?writeonly: for a file you may',
    'only read, add ?readonly. Behind a listener, a file is a shared device (one hub).',
  ],
  options: fileOptions,
  parseTarget: (target, uri) => {
    if (target === '') throw new UsageError(`${quoteUri(uri)}: missing path: expected file:/path`);
    return target;
  },
  validate(spec) {
    const o = spec.options;
    const reader = o.follow ? '?follow' : o.readonly ? '?readonly' : undefined;
    if (reader && o.writeonly) throw new UsageError(`${quoteUri(spec.uri)}: ${reader} and ?writeonly exclude each other`);
    if (o.excl && !o.create) throw new UsageError(`${quoteUri(spec.uri)}: ?excl needs ?create`);
    if (reader && (o.truncate || o.append))
      throw new UsageError(`${quoteUri(spec.uri)}: ?${o.truncate ? 'truncate' : 'append'} writes, but ${reader} only reads`);
    // An option that cannot take effect is refused, not ignored (the rule of src/main.ts).
    if (o.mode !== undefined && !o.create)
      throw new UsageError(`${quoteUri(spec.uri)}: option "mode" has no effect without ?create (it is the mode of a file that ?create makes)`);
  },
  async open(spec, ctx) {
    const o = spec.options;
    const readonly = o.readonly || o.follow;
    const C = fs.constants;
    const flags =
      (readonly ? C.O_RDONLY : o.writeonly ? C.O_WRONLY : C.O_RDWR) |
      (o.create ? C.O_CREAT : 0) |
      (o.excl ? C.O_EXCL : 0) |
      (o.nofollow ? C.O_NOFOLLOW : 0) |
      (o.truncate ? C.O_TRUNC : 0) |
      (o.append ? C.O_APPEND : 0);
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(spec.target, flags, o.mode ?? 0o666);
    } catch (err) {
      // O_NOFOLLOW on a symlink fails with ELOOP, "too many symbolic links": say what it means here.
      if (o.nofollow && (err as NodeJS.ErrnoException).code === 'ELOOP')
        throw new EndpointError(spec.uri, Object.assign(new Error('is a symlink, not followed (?nofollow)'), { code: 'ELOOP' }));
      throw new EndpointError(spec.uri, err);
    }
    let st: fs.Stats;
    try {
      st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    } catch (err) {
      await fh.close().catch(() => {});
      throw new EndpointError(spec.uri, err);
    }
    const stream = new FileLink(fh, spec.target, st, { ...o, readonly }, ctx.log);
    // Behind a door its end is only the end of its content: peers still write to it.
    const rest = readonly ? 'read-only: what peers send is discarded' : 'what peers send is still written to it';
    return { stream, label: `file ${spec.target}`, endIsNotLoss: `file ${spec.target}: all of its content sent; ${rest}` };
  },
};

/** The file as a Duplex: positional reads up to the size at open (or on, with follow); writes after it. */
class FileLink extends Duplex {
  /** Regular files use explicit offsets; devices and pipes have none. */
  private readonly positional: boolean;
  private readPos = 0;
  /** Reading ends here, so that what we write into the file is never read back and sent. */
  private readonly readEnd: number;
  private writePos: number;
  private reading = false;
  private discarded = 0;
  private watcher: fs.FSWatcher | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly fh: fs.promises.FileHandle,
    private readonly path: string,
    st: fs.Stats,
    private readonly o: FileOptions,
    private readonly log: Logger,
  ) {
    super({ allowHalfOpen: true });
    this.positional = st.isFile();
    this.readEnd = this.positional && !o.follow ? st.size : Infinity;
    this.writePos = o.truncate ? 0 : st.size;
  }

  override _read(): void {
    if (this.o.writeonly) {
      this.push(null);
      return;
    }
    if (this.reading) return;
    this.reading = true;
    this.pump().catch((err) => this.destroy(err));
  }

  private async pump(): Promise<void> {
    while (!this.destroyed) {
      const limit = Math.min(CHUNK, this.readEnd - this.readPos);
      if (limit <= 0) {
        this.push(null);
        return;
      }
      const buf = Buffer.allocUnsafe(limit);
      const { bytesRead } = await this.fh.read(buf, 0, limit, this.positional ? this.readPos : null);
      if (this.destroyed) return;
      if (bytesRead === 0) {
        if (!this.o.follow) {
          this.push(null); // shorter than at open: someone truncated it
          return;
        }
        await this.waitForGrowth();
        continue;
      }
      this.readPos += bytesRead;
      if (!this.push(buf.subarray(0, bytesRead))) {
        this.reading = false;
        return;
      }
    }
  }

  /** tail -f: wait for a change event (inotify) or the poll interval, whichever comes first. */
  private async waitForGrowth(): Promise<void> {
    if (!this.watcher) {
      try {
        this.watcher = fs.watch(this.path, { persistent: false }, () => this.wake?.());
        this.watcher.on('error', () => {}); // polling goes on
      } catch {
        // no inotify watches left, or a file system without them: polling only
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wake?.(), this.o.poll);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
    if (this.destroyed || !this.positional) return;
    const { size } = await this.fh.stat();
    if (size < this.readPos) {
      this.log.info(`file ${this.path}: truncated; reading from its start`);
      this.readPos = 0;
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.o.readonly) {
      if (this.discarded === 0) this.log.info(`file ${this.path}: read-only; discarding bytes from the other side`);
      this.discarded += chunk.length;
      return done();
    }
    this.writeFully(chunk).then(() => done(), done);
  }

  private async writeFully(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      const at = this.positional && !this.o.append ? this.writePos : null;
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, at);
      off += bytesWritten;
      this.writePos += bytesWritten;
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.watcher?.close();
    this.wake?.();
    this.fh.close().then(
      () => done(err),
      () => done(err),
    );
  }
}
