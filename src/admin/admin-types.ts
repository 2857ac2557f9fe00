/** What the admin port depends on and answers (admin-server.ts, writer-commands.ts). */
import type { SwitchoverReport } from '../cluster/switchover.js';
import type { ClusterStore } from '../cluster/store.js';
import type { SluiceConfig } from '../config/types.js';
import type { DataPath } from './data-path.js';
import type { AdminTable } from './admin-table.js';
import type { HostErrorRow } from '../frontend/host-errors.js';

/** Addresses with handshake errors, blocked or not (limits.maxConnectErrors); the group's. */
export interface HostCache {
  hostRows(): HostErrorRow[];
  blockedAddresses(): string[];
  /** Forgets every address; returns how many were blocked. */
  flushHosts(): number;
}

export interface ConfigApplyResult {
  readonly live: readonly string[];
  readonly restart: readonly string[];
  /** Changes refused for the running proxy, with the reason (they wait for a restart). */
  readonly notes: readonly string[];
}

export interface AdminDeps {
  /** The running configuration. */
  config(): SluiceConfig;
  /**
   * The configuration as configured: the last one given to applyConfig / reloadConfig (what SAVE
   * CONFIG writes). Differs from config() only in what waits for a restart.
   */
  configured(): SluiceConfig;
  /** Makes the running proxy follow a validated configuration as far as it can live. */
  applyConfig(next: SluiceConfig, source: string): ConfigApplyResult;
  /** Re-reads the config file and applies it; throws ConfigError (nothing changed) when it is bad. */
  reloadConfig(source: string): ConfigApplyResult;
  /** File the config was loaded from (SAVE CONFIG / RELOAD @@CONFIG need it). */
  readonly configPath?: string;
  readonly cluster: ClusterStore;
  /** Sessions, pools and statement statistics of every process that holds client sessions. */
  readonly dataPath: DataPath;
  /** Blocked hosts (SHOW @@BLOCKED_HOSTS, FLUSH HOSTS); absent: nothing is kept. */
  readonly hosts?: HostCache;
  /** Planned switchover to writeHost `index` (cluster/switchover.ts); throws SwitchoverError with the reason. */
  switchover(index: number, reason: string): Promise<SwitchoverReport>;
}

export type AdminReply =
  | { readonly type: 'table'; readonly table: AdminTable }
  | { readonly type: 'ok'; readonly message: string; readonly affectedRows?: number }
  | { readonly type: 'error'; readonly errno: number; readonly sqlState: string; readonly message: string };

/** An admin command that did nothing, and why (ER_UNKNOWN_ERROR 1105, as Atlas answers). */
export const refused = (message: string): AdminReply => ({ type: 'error', errno: 1105, sqlState: 'HY000', message });
export const ok = (message: string, affectedRows = 0): AdminReply => ({ type: 'ok', message, affectedRows });
