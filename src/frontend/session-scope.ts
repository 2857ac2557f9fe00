/**
 * What one client session is while it runs: its channel, its authenticated client, its state,
 * the backend connections it keeps and its prepared statements. The session's command modules
 * (statement-runner, prepared-commands, local-commands) all work on one SessionScope, so none of
 * them needs the others' internals and the session loop (session.ts) only dispatches.
 */
import type { Logger } from 'pino';
import { Capability, ServerStatus } from '../protocol/constants.js';
import { encodeOk } from '../protocol/responses.js';
import { WIRE_FORMAT_CAPABILITIES, type BackendConnection } from '../backend/backend-connection.js';
import { ClientWriteTimeout, type BackendGoneError } from '../backend/backend-types.js';
import type { PoolKey } from '../backend/host-pools.js';
import type { SessionRouteState } from '../routing/types.js';
import type { OkView } from '../backend/response-scanner.js';
import { clientTracksGtids, type GtidPosition } from '../cluster/gtid.js';
import type { ClientChannel } from './client-channel.js';
import type { AuthenticatedClient } from './authenticate.js';
import type { SessionContext } from './session-context.js';
import { SessionConnections } from './session-connections.js';
import { SessionStatements } from './prepared-statements.js';
import { inTransactionScope, isPinned, routeState, type SessionState } from './session-state.js';

const PLAIN: OkView = Object.freeze({ clientTracks: false, clientSeesGtid: false });
const TRACKS: OkView = Object.freeze({ clientTracks: true, clientSeesGtid: false });
const TRACKS_WITH_GTID: OkView = Object.freeze({ clientTracks: true, clientSeesGtid: true });

export class SessionScope {
  readonly remoteAddress: string;
  /** Set once authentication succeeded (commands only run after that). */
  client: AuthenticatedClient | undefined;
  /** Set together with `client`. */
  state: SessionState | undefined;
  /** The backend connections this session keeps between statements (see session-connections). */
  readonly backends: SessionConnections;
  /** Server-side prepared statements under the proxy's ids. */
  readonly statements = new SessionStatements();
  /** The connection running the current statement (KILL QUERY targets it). */
  active: BackendConnection | undefined;
  /** Text of the statement running now, for SHOW @@CONNECTION. */
  currentSql: string | undefined;
  /** KILL or shutdown: the command loop ends after the current command. */
  killed = false;

  constructor(
    readonly id: number,
    readonly ch: ClientChannel,
    readonly ctx: SessionContext,
    readonly log: Logger,
  ) {
    this.remoteAddress = ch.socket.remoteAddress ?? 'unknown';
    this.backends = new SessionConnections(ctx, log);
  }

  /** The authenticated client; only called while commands run. */
  get authed(): AuthenticatedClient {
    return this.client!;
  }

  /** The session state; only called while commands run. */
  get s(): SessionState {
    return this.state!;
  }

  get deprecateEof(): boolean {
    return (this.authed.capabilities & Capability.DEPRECATE_EOF) !== 0;
  }

  /**
   * Part of a result reached the client and its backend connection is gone (the backend died,
   * or the client stopped reading and the relay closed it): the client connection is closed, the
   * only honest signal left (the client reports 2013), and nothing more is sent.
   */
  closeForInterruptedResult(err: BackendGoneError, hostId: string): void {
    if (err instanceof ClientWriteTimeout) {
      this.ctx.stats.clientTimeouts.write++;
      this.log.info({ backend: hostId, writeTimeoutMs: err.writeTimeoutMs, bytes: err.bytesForwarded }, 'client stopped reading a result; closing it and its backend connection');
    } else {
      this.log.warn({ backend: hostId, err: err.message }, 'backend lost during a result; closing client');
    }
    this.ch.destroy();
  }

  /** A transaction is open or the session is pinned: its connection must be kept. */
  inScope(): boolean {
    const s = this.state;
    return s !== undefined && (inTransactionScope(s) || isPinned(s));
  }

  statusFlags(): number {
    const s = this.state;
    let flags = 0;
    if (!s || s.autocommit) flags |= ServerStatus.AUTOCOMMIT;
    if (s?.inTransaction) flags |= ServerStatus.IN_TRANS;
    return flags;
  }

  /** An OK packet the proxy answers itself, with the session's status flags. */
  okPayload(): Buffer {
    return encodeOk({ statusFlags: this.statusFlags() }, this.client?.capabilities ?? 0);
  }

  /** Backend connections this client may use: same wire format and character set. */
  poolKey(): PoolKey {
    return {
      wireCapabilities: (this.authed.capabilities & WIRE_FORMAT_CAPABILITIES) >>> 0,
      charset: this.authed.charset,
      mariadbCapabilities: this.authed.mariadbCapabilities,
    };
  }

  /** The router's view of the session. */
  routeState(): SessionRouteState {
    const cfg = this.ctx.config().session;
    return routeState(
      this.s,
      this.backends.holdsLast(),
      Date.now(),
      cfg.readYourWritesMs,
      this.backends.anchorHostId(),
      cfg.consistency === 'eventual' ? 0 : cfg.consistencyTimeoutMs,
    );
  }

  /**
   * The GTIDs a read on a readHost must see (session.consistency), or undefined when any
   * readHost will do: eventual consistency, or nothing written yet. A read-only session pays
   * nothing.
   */
  requiredPosition(): GtidPosition | undefined {
    const mode = this.ctx.config().session.consistency;
    if (mode === 'eventual') return undefined;
    const p = mode === 'global' ? this.ctx.positions.latestAcknowledged() : this.s.writePosition;
    return p.size > 0 ? p : undefined;
  }

  /** How relayed OK packets must look to this client (session tracking, protocol/tracked-ok.ts). */
  okView(): OkView {
    const tracks = (this.authed.capabilities & Capability.SESSION_TRACK) !== 0;
    const seesGtid = tracks && this.s.vars.size > 0 && clientTracksGtids(this.s.vars);
    return tracks ? (seesGtid ? TRACKS_WITH_GTID : TRACKS) : PLAIN;
  }
}
