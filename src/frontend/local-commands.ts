/**
 * Commands the proxy answers itself, with a backend's help where one must judge: the schema
 * (COM_INIT_DB and the handshake's database), COM_CHANGE_USER, COM_RESET_CONNECTION,
 * COM_SET_OPTION and KILL with the proxy's connection ids.
 */
import { encodeEof, encodeOk, encodeSchemaChange } from '../protocol/responses.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import type { ClientCommand } from '../protocol/commands.js';
import { plainClassification } from '../routing/classification.js';
import { encodeErrFor, verifyChangeUser } from './authenticate.js';
import { readCandidates } from '../routing/router.js';
import { HostUnavailable, type HeldConnection } from './session-connections.js';
import { newSessionState, recordReset } from './session-state.js';
import type { SessionScope } from './session-scope.js';
import type { StatementRunner } from './statement-runner.js';
import type { PreparedCommands } from './prepared-commands.js';

/** Inside a transaction a schema check runs where a read would: on the session's connection. */
const READ = plainClassification('read');

export class LocalCommands {
  constructor(
    private readonly scope: SessionScope,
    private readonly runner: StatementRunner,
    private readonly prepared: PreparedCommands,
  ) {}

  /**
   * Validates and records a schema change (USE via COM_INIT_DB, or the handshake's database).
   *
   * The writeHost is the authority on which databases exist: a replica may lack one for a while
   * (not replicated yet) or for good (replicate-ignore-db). Only when the writeHost cannot be
   * reached does a readHost answer, so logins keep working while it is down. Inside a
   * transaction (or pinned) the check stays on the session's connection.
   */
  async changeSchema(schema: string): Promise<SqlError | undefined> {
    const scope = this.scope;
    try {
      this.runner.checkAnchorAlive();
      if (scope.inScope()) {
        const decision = this.runner.decideNow(READ);
        if (decision.target === 'error') return new SqlError(decision.message, decision.errno, decision.sqlState);
        await this.runner.withBackend(decision, '', (held) => this.initDbOn(held, schema), () => false);
        return undefined;
      }
      return await this.checkOnAuthority(schema);
    } catch (err) {
      if (err instanceof SqlError) return err;
      if (err instanceof HostUnavailable) return sqlError('CR_CONN_HOST_ERROR', err.hostId, err.reason);
      return sqlError('CR_CONN_HOST_ERROR', scope.ctx.cluster().dataHost, (err as Error).message);
    }
  }

  /**
   * The writeHost, else the readable hosts in configuration order. The host is named here, not
   * picked by the selector: a check of the proxy's own must not shift where the next reads go
   * (with round-robin over two replicas, every connect-query-disconnect client with a database
   * would otherwise land on the same one).
   */
  private async checkOnAuthority(schema: string): Promise<undefined> {
    const view = this.scope.ctx.cluster();
    const readable = readCandidates(view, 2);
    const hosts = view.writer ? [view.writer, ...readable.filter((h) => h.id !== view.writer!.id)] : readable;
    // A host lost mid-check is skipped like one that cannot give a connection.
    await this.runner.withBackend({ target: 'in-order', hosts, reason: 'authority' }, '', (held) => this.initDbOn(held, schema), () => true);
    return undefined;
  }

  private async initDbOn(held: HeldConnection, schema: string): Promise<void> {
    const scope = this.scope;
    held.conn.state.diagnosticsSession = scope.s.sessionId;
    await held.conn.initDb(schema);
    scope.s.schema = schema;
    scope.backends.finishStatement(held, scope.inScope());
  }

  /**
   * COM_INIT_DB. A client that tracks session state learns the new schema from the OK, as from
   * the server (session_track_schema is on by default).
   */
  async initDb(schema: string): Promise<void> {
    const scope = this.scope;
    const err = await this.changeSchema(schema);
    if (err) {
      scope.ch.send(encodeErrFor(err), 1);
      return;
    }
    scope.ch.send(encodeOk({ statusFlags: scope.statusFlags(), sessionState: encodeSchemaChange(schema) }, scope.authed.capabilities), 1);
  }

  /** COM_SET_OPTION: multi-statements on or off, answered with an EOF as by the server. */
  setOption(option: number): void {
    const scope = this.scope;
    scope.s.multiStatements = option === 0;
    const status = scope.statusFlags();
    scope.ch.send(
      scope.deprecateEof ? encodeOk({ statusFlags: status }, scope.authed.capabilities, 0xfe) : encodeEof(0, status),
      1,
    );
  }

  /** COM_RESET_CONNECTION: a fresh session on the same login, schema kept. */
  async resetConnection(): Promise<void> {
    const scope = this.scope;
    this.prepared.clear(); // the cursors' connections are reset below
    await scope.backends.releaseAll(true, scope.inScope());
    recordReset(scope.s, scope.authed.charset);
    scope.ch.send(scope.okPayload(), 1);
  }

  /** COM_CHANGE_USER: the same per-user plugin checks as a login, then a fresh session. */
  async changeUser(cmd: Extract<ClientCommand, { type: 'change-user' }>): Promise<void> {
    const scope = this.scope;
    const client = scope.authed;
    const verdict = await verifyChangeUser(scope.ch, cmd, {
      scramble: client.scramble,
      users: scope.ctx.config().users,
      remoteAddress: scope.remoteAddress,
      security: scope.ctx.security,
    });
    if (verdict.status === 'gone') return;
    if (verdict.status === 'denied') {
      scope.ch.send(encodeErrFor(verdict.error), verdict.nextSeq & 0xff);
      scope.killed = true; // the server closes the connection after a failed COM_CHANGE_USER
      return;
    }
    this.prepared.clear(); // the cursors' connections are reset below
    await scope.backends.releaseAll(true, scope.inScope());
    const charset = cmd.charset ?? client.charset;
    scope.client = { ...client, user: verdict.user, charset };
    scope.state = newSessionState(scope.id, charset, scope.s.multiStatements, scope.ctx.serverSqlModeUnmodelled());
    if (cmd.database) {
      const err = await this.changeSchema(cmd.database);
      if (err) {
        scope.ch.send(encodeErrFor(err), verdict.nextSeq & 0xff);
        return;
      }
    }
    scope.ch.send(scope.okPayload(), verdict.nextSeq & 0xff);
  }

  /** KILL [CONNECTION | QUERY] id, with the proxy's connection ids. */
  async kill(targetId: number, queryOnly: boolean): Promise<void> {
    const err = await this.killTarget(targetId, queryOnly);
    this.scope.ch.send(err ? encodeErrFor(err) : this.scope.okPayload(), 1);
  }

  /**
   * Interrupts or ends another session (or this one) as KILL does; returns the error the server
   * would answer, or undefined once done.
   */
  async killTarget(targetId: number, queryOnly: boolean): Promise<SqlError | undefined> {
    const scope = this.scope;
    const target = scope.ctx.session(targetId);
    if (!target) {
      // Another worker process may hold it (connection ids are unique across the group).
      const outcome = (await scope.ctx.killElsewhere?.(targetId, queryOnly, scope.client?.user.name)) ?? 'unknown';
      if (outcome === 'unknown') return sqlError('ER_NO_SUCH_THREAD', targetId);
      if (outcome === 'denied') return sqlError('ER_KILL_DENIED_ERROR', targetId);
      return undefined;
    }
    if (target.user !== scope.client?.user.name) return sqlError('ER_KILL_DENIED_ERROR', targetId);
    await target.interrupt(queryOnly, scope.poolKey());
    if (targetId === scope.id && !queryOnly) return sqlError('ER_CONNECTION_KILLED');
    return undefined;
  }

}

/**
 * `KILL [CONNECTION | QUERY] <id>` — the id is the proxy's, translated per backend;
 * `CONNECTION_ID()` as the id is the session itself (`selfId`).
 */
export function parseKill(sql: string, selfId: number): { id: number; queryOnly: boolean } | undefined {
  const m = /^\s*KILL\s+(?:(CONNECTION|QUERY)\s+)?(\d+|CONNECTION_ID\s*\(\s*\))\s*;?\s*$/i.exec(sql);
  if (!m) return undefined;
  const id = /^\d/.test(m[2]!) ? Number(m[2]) : selfId;
  return { id, queryOnly: (m[1] ?? '').toUpperCase() === 'QUERY' };
}
