/**
 * Streams one backend response at a time to a client: the hot path of the proxy.
 *
 * Every chunk read from the backend socket goes to a ResponseScanner (where does the response
 * end, what do its status packets say) and, unchanged, to the client — unless an OK packet must
 * look different to this client (session tracking, protocol/tracked-ok.ts), in which case the
 * StreamEditor holds back and replaces just that packet. While the client's buffer is full the
 * backend socket is paused (backpressure end to end: a 1 GB result passes in bounded memory).
 * A client that takes nothing for `writeTimeoutMs` meanwhile (it stopped reading, its network
 * died silently) would keep the backend connection mid-result forever: the connection is then
 * closed — it can never go back to a pool with half a result unread — and the statement fails
 * with ClientWriteTimeout.
 *
 * One relay per backend connection, reused by every statement: a statement allocates nothing
 * but its promise.
 */
import { ResponseScanner, type OkView, type ResponseShape, type ResponseSummary } from './response-scanner.js';
import { StreamEditor } from './stream-editor.js';
import { BackendGoneError, ClientWriteTimeout, type ClientSink } from './backend-types.js';

/** What a relay needs of its backend connection. */
export interface RelayLine {
  /** Stop / go on reading the backend socket. */
  pause(): void;
  resume(): void;
  /** Ends the connection (its socket is closed; the relay's onGone follows). */
  fail(reason: string): void;
  /** The response is over (relayed or failed): the connection is idle again. */
  finished(): void;
  /** How long a client may take nothing while the backend is paused for it (read at each wait); 0 = forever. */
  writeTimeoutMs(): number;
}

/** A sink that drops everything (a read whose consistency wait failed is thrown away). */
export const DISCARD_SINK: ClientSink = {
  write: () => true,
  once: () => undefined,
  off: () => undefined,
  destroyed: false,
};

export class ResponseRelay {
  private readonly scanner = new ResponseScanner('query', 0, 1);
  /** Holds back packets that may still be rewritten (slow path only). */
  private readonly editor = new StreamEditor();
  private client: ClientSink | undefined;
  private resolve: ((summary: ResponseSummary) => void) | undefined;
  private reject: ((err: Error) => void) | undefined;
  /** Bytes of this response received (a retry elsewhere is only safe at 0). */
  private forwarded = 0;
  /**
   * Armed while the relay waits for 'drain'. Made once per relay and re-armed with refresh():
   * a slow client costs no allocation per wait. It may fire after the wait ended; `waitingSince`
   * (0 when not waiting) tells.
   */
  private stallTimer: NodeJS.Timeout | undefined;
  private stallMs = 0;
  private waitingSince = 0;
  /** The connection was closed because the client stopped reading (onGone reports that). */
  private stalled = false;

  constructor(private readonly line: RelayLine) {}

  /** Starts relaying the next response; the connection routes its socket's data to onData. */
  begin(shape: ResponseShape, capabilities: number, client: ClientSink, firstSeq: number, okView: OkView | undefined, checksum = false): Promise<ResponseSummary> {
    this.scanner.reset(shape, capabilities, firstSeq, okView, checksum);
    this.client = client;
    this.forwarded = 0;
    this.stalled = false;
    this.editor.reset();
    return new Promise<ResponseSummary>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  private readonly resumeBackend = (): void => {
    this.waitingSince = 0;
    this.client?.off('close', this.clientGone);
    this.line.resume();
  };

  /** The client's buffer is full: pause the backend until it drains (or the client gives up). */
  private waitForClient(client: ClientSink): void {
    this.line.pause();
    client.once('drain', this.resumeBackend);
    client.once('close', this.clientGone);
    const ms = this.line.writeTimeoutMs();
    if (ms <= 0) return;
    this.waitingSince = performance.now();
    if (this.stallTimer !== undefined && this.stallMs === ms) this.stallTimer.refresh();
    else {
      clearTimeout(this.stallTimer);
      this.stallMs = ms;
      this.stallTimer = setTimeout(this.clientStalled, ms);
      this.stallTimer.unref();
    }
  }

  /**
   * writeTimeoutMs passed: if the relay is still waiting for the same client (a late firing after
   * a drain is ignored, and a wait that began later re-armed the timer), the connection is closed.
   */
  private readonly clientStalled = (): void => {
    const since = this.waitingSince;
    if (since === 0 || this.client === undefined) return;
    const left = this.stallMs - (performance.now() - since);
    if (left > 1) {
      this.stallTimer?.refresh(); // a wait that began after this timer was armed: not due yet
      return;
    }
    this.waitingSince = 0;
    this.client.off('drain', this.resumeBackend);
    this.client.off('close', this.clientGone);
    this.stalled = true;
    this.line.fail(`client read nothing of the result for ${this.stallMs} ms`);
  };

  /**
   * The client closed while the relay waited for it to drain: no 'drain' will ever come. The rest
   * of the result cannot be read into nothing cheaply and the connection is mid-response, so it is
   * closed (the statement fails as for a backend lost, and the session ends with its client).
   */
  private readonly clientGone = (): void => {
    this.waitingSince = 0;
    this.client?.off('drain', this.resumeBackend);
    this.line.fail('client went away during a result');
  };

  /** The backend connection failed mid-response. */
  readonly onGone = (err: Error): void => {
    this.waitingSince = 0;
    this.client?.off('drain', this.resumeBackend);
    this.client?.off('close', this.clientGone);
    const reject = this.reject;
    this.end();
    reject?.(this.stalled ? new ClientWriteTimeout(this.stallMs, this.forwarded) : new BackendGoneError(err.message, this.forwarded, true));
  };

  readonly onData = (chunk: Buffer): void => {
    const scanner = this.scanner;
    const base = scanner.consumed;
    let used: number;
    try {
      used = scanner.push(chunk);
    } catch (err) {
      this.line.fail(`protocol error from backend: ${(err as Error).message}`);
      return;
    }
    if (used !== chunk.length) {
      this.line.fail(`backend sent ${chunk.length - used} bytes past the end of a response`);
      return;
    }
    const client = this.client!;
    if (client.destroyed) {
      // The client is gone: stop pulling a result nobody will read.
      this.line.fail('client went away during a result');
      return;
    }
    this.forwarded += chunk.length;
    // The hot path: nothing held back, nothing to rewrite — the chunk goes out as it came.
    const writable =
      this.editor.idle && scanner.edits.length === 0 && scanner.decidedEnd === base + chunk.length
        ? client.write(chunk)
        : this.writeEdited(chunk, base, client);
    if (!writable && !scanner.done) {
      this.waitForClient(client);
      if (client.destroyed) this.clientGone(); // closed before the listener was there
    }
    if (scanner.done) {
      const resolve = this.resolve!;
      this.end();
      resolve(scanner.complete());
    }
  };

  /** The slow path: the editor applies the scanner's replacements and holds back what is undecided. */
  private writeEdited(chunk: Buffer, base: number, client: ClientSink): boolean {
    const out = this.editor.take(chunk, base, this.scanner);
    return out.length === 0 ? true : client.write(out);
  }

  private end(): void {
    this.editor.reset();
    this.client = undefined;
    this.resolve = undefined;
    this.reject = undefined;
    this.line.finished();
  }
}
