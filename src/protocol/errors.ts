/**
 * The one error type the codec throws on bad peer input.
 *
 * Decoders are total: malformed, truncated or oversized input ends in a `ProtocolError` (never a
 * RangeError/TypeError from Buffer, never a hang). Callers close that one connection and log it;
 * the message is meant for logs, not for clients (clients get a coded `SqlError`).
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  /** Short machine-readable reason, e.g. `truncated`, `packet-too-large`, `missing-nul`. */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}
