/**
 * A client sink that passes a response through but keeps its latest chunk back until release():
 * the client cannot see the response complete (its final OK) before the proxy has done what
 * must come first. Used for writes under consistency: global with worker processes, whose OK
 * waits until every worker knows the write's GTID. Memory stays bounded: one chunk is held.
 */
import type { ClientSink } from './backend-types.js';

export class HoldLastSink implements ClientSink {
  private held: Buffer | undefined;

  constructor(private readonly out: ClientSink) {}

  get destroyed(): boolean {
    return this.out.destroyed;
  }

  write(chunk: Buffer): boolean {
    const previous = this.held;
    this.held = chunk;
    return previous === undefined ? true : this.out.write(previous);
  }

  once(event: 'drain' | 'close', listener: () => void): unknown {
    return this.out.once(event, listener);
  }

  off(event: 'drain' | 'close', listener: () => void): unknown {
    return this.out.off(event, listener);
  }

  /** Sends what is held back. */
  release(): void {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined && !this.out.destroyed) this.out.write(held);
  }
}
