/**
 * What transaction replay (failover.transactionReplay) keeps of a session's open transaction on
 * the writeHost: every command it ran there, in order, each with the checksum of the answer the
 * client got (ResponseSummary.checksum), so that the transaction can be run again on a new
 * writeHost and continue only if every answer is the same.
 *
 * Bounded: past failover.transactionReplayMaxBytes of commands the journal drops what it holds
 * and the transaction is simply not replayable; so is one that did something a replay could not
 * reproduce (see `after`). Why is kept, so the log can say it when the writeHost is lost.
 *
 * Transaction state comes from the server's status flags, like the session's: the journal ends
 * when the server says the transaction did (COMMIT, ROLLBACK, an implicit commit, a deadlock).
 */
import type { BackendConnection } from '../backend/backend-connection.js';
import type { ResponseShape, ResponseSummary } from '../backend/response-scanner.js';
import type { ClientCommand } from '../protocol/commands.js';
import type { Classification } from '../routing/types.js';
import { isPinned, pinReasons, type SessionState } from './session-state.js';

/** How a lost transaction ended (sluice_replays_total{outcome}). */
export type ReplayOutcome =
  /** Replayed on the new writeHost with identical answers: the client saw nothing. */
  | 'replayed'
  /** An answer differed on the new writeHost (the data changed meanwhile): the client got the error. */
  | 'mismatch'
  /** The transaction could not be replayed (too large, session state, pinned …). */
  | 'not-replayable'
  /** COMMIT (or a statement that may commit) was in flight: outcome unknown, 2013. */
  | 'commit-in-flight'
  /** No writable writeHost within failover.promotionWaitMs, or the replay itself failed. */
  | 'failed';

/** A command as it can be sent again: its payload, or built for the connection (prepared statements). */
export type JournalCommand = Buffer | ((conn: BackendConnection) => Promise<Buffer>);

/** A command about to run on the writeHost inside (or opening) a transaction. */
export interface Recording {
  readonly c: Classification;
  readonly shape: ResponseShape;
  readonly command: JournalCommand;
  /** Bytes it costs the journal (the payload, or a prepared execution's parameters). */
  readonly bytes: number;
}

export interface JournalEntry {
  readonly command: JournalCommand;
  readonly shape: ResponseShape;
  readonly checksum: string;
  /** The statement's digest, for the log line of a replay that differed. */
  readonly digest: string;
}

/** Commands that may run inside a replayable transaction; any other makes it not replayable. */
const REPLAYABLE_COMMANDS: ReadonlySet<ClientCommand['type']> = new Set([
  'query',
  'ping',
  'statistics',
  'field-list',
  'stmt-prepare',
  'stmt-execute',
  'stmt-bulk-execute',
  'stmt-close',
  'stmt-reset',
  'stmt-send-long-data', // refused at the execution that uses it (the data is not kept)
  'quit',
]);

export class TransactionJournal {
  private entries: JournalEntry[] = [];
  private bytes = 0;
  /** The host the entries ran on. */
  private host: string | undefined;
  /** Autocommit was off when the transaction began: a replay turns it off first. */
  private autocommitOff = false;
  /** LAST_INSERT_ID() when the transaction began (a replay starts the connection there). */
  private startLastInsertId: number | bigint = 0;
  /** Why the open transaction cannot be replayed; undefined while it can. */
  private refused: string | undefined;

  constructor(private readonly limits: () => { readonly enabled: boolean; readonly maxBytes: number }) {}

  /** Whether replay is on (the configuration may change while the session lives). */
  get enabled(): boolean {
    return this.limits().enabled;
  }

  /** The commands to replay, in order. */
  get commands(): readonly JournalEntry[] {
    return this.entries;
  }

  get startsWithAutocommitOff(): boolean {
    return this.autocommitOff;
  }

  get lastInsertIdAtStart(): number | bigint {
    return this.startLastInsertId;
  }

  get recordedOn(): string | undefined {
    return this.host;
  }

  /**
   * Whether a statement about to run on the writeHost is to be recorded (its answer digested):
   * inside a transaction, or one that opens one. Cheap: it runs for every statement.
   */
  records(c: Classification, s: SessionState): boolean {
    return (s.inTransaction || !s.autocommit || c.kind === 'begin') && this.limits().enabled;
  }

  /** A client command arrived while the session is in a transaction. */
  command(type: ClientCommand['type']): void {
    if (!REPLAYABLE_COMMANDS.has(type)) this.refuse(`the transaction used ${type}`);
  }

  /** Something the transaction did cannot be run again identically. */
  refuse(reason: string): void {
    this.refused ??= reason;
    this.entries = [];
    this.bytes = 0;
  }

  /**
   * A command finished on `host` and its answer was relayed; `recording` is what was recorded of
   * it (undefined: it was not). Called after the session state took the answer in.
   */
  after(host: string, recording: Recording | undefined, summary: ResponseSummary, s: SessionState): void {
    if (!s.inTransaction) {
      // No transaction (any more): the next one starts from here.
      if (this.entries.length > 0 || this.refused !== undefined || this.host !== undefined || this.autocommitOff !== !s.autocommit) {
        this.entries = [];
        this.bytes = 0;
        this.refused = undefined;
        this.host = undefined;
      }
      this.autocommitOff = !s.autocommit;
      this.startLastInsertId = s.lastInsertId;
      return;
    }
    if (this.refused !== undefined) return;
    if (recording === undefined || summary.checksum === undefined) return this.refuse('a command ran without being recorded');
    const { c } = recording;
    if (this.host !== undefined && this.host !== host) return this.refuse('the transaction moved between servers');
    this.host = host;
    if (summary.localInfile) return this.refuse('LOAD DATA LOCAL INFILE (the file is not kept)');
    if (c.kind === 'use' || (c.kind === 'set' && c.assignments.some((a) => !(a.type === 'session' && a.name === 'autocommit')))) {
      return this.refuse(`${c.verb} inside the transaction changed the session's state`);
    }
    if (c.verb === 'XA') return this.refuse('an XA transaction');
    const max = this.limits().maxBytes;
    if (this.bytes + recording.bytes > max) return this.refuse(`larger than failover.transactionReplayMaxBytes (${max} bytes)`);
    this.bytes += recording.bytes;
    this.entries.push({ command: recording.command, shape: recording.shape, checksum: summary.checksum, digest: c.digest });
  }

  /** Why the open transaction cannot be replayed now; undefined = it can. */
  whyNot(s: SessionState): string | undefined {
    if (!this.limits().enabled) return 'failover.transactionReplay is off';
    if (this.refused !== undefined) return this.refused;
    if (isPinned(s)) return `the session is pinned to its connection (${pinReasons(s).join(', ')})`;
    return undefined;
  }
}

/** Statements whose loss in flight leaves the transaction's outcome unknown (they may commit). */
export function mayCommit(c: Classification): boolean {
  return !(c.kind === 'read' || c.kind === 'write' || c.kind === 'savepoint' || (c.kind === 'rollback' && !c.chain));
}
