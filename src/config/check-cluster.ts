/**
 * The cluster section: how several Sluice instances in front of the same dataHost agree on one
 * writer (cluster/cooperation.ts). Off by default: one instance decides alone, as before.
 */
import os from 'node:os';
import type { Checker, Obj } from './checker.js';
import type { ClusterConfig, Cooperation, MajorityRule, HeartbeatConfig } from './types.js';

const CLUSTER_KEYS = ['cooperation', 'instanceName', 'majority', 'lockTimeoutSeconds'] as const;
const COOPERATIONS: readonly Cooperation[] = ['none', 'backend-locks'];
const MAJORITIES: readonly MajorityRule[] = ['all', 'running'];
/** What an instance name may hold: it goes into logs, status output and lock-holder reports. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const CLUSTER_DEFAULTS = Object.freeze({ cooperation: 'none' as Cooperation, majority: 'all' as MajorityRule, lockTimeoutSeconds: 5 });

/** The machine's host name as an instance name (characters outside NAME become '-'). */
export function defaultInstanceName(): string {
  const n = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return n === '' ? 'sluice' : n;
}

export function checkCluster(c: Checker, root: Obj | undefined, heartbeat: HeartbeatConfig): ClusterConfig {
  const o = c.section(root, 'cluster', '', CLUSTER_KEYS);
  const d = CLUSTER_DEFAULTS;
  const cooperation = c.oneOf(o, 'cooperation', 'cluster', COOPERATIONS, d.cooperation);
  const instanceName = c.present(o, 'instanceName') ? c.string(o, 'instanceName', 'cluster') : defaultInstanceName();
  if (c.present(o, 'instanceName') && instanceName !== '' && !NAME.test(instanceName)) {
    c.problem('cluster.instanceName', 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  const majority = c.oneOf(o, 'majority', 'cluster', MAJORITIES, d.majority);
  const lockTimeoutSeconds = c.int(o, 'lockTimeoutSeconds', 'cluster', 1, 3600, d.lockTimeoutSeconds);
  // A living instance touches each lock connection once per heartbeat interval; the server must
  // not take its locks away between two touches (one late probe included).
  const minSeconds = Math.ceil((2 * heartbeat.intervalMs + heartbeat.timeoutMs) / 1000);
  if (cooperation !== 'none' && lockTimeoutSeconds < minSeconds) {
    c.problem(
      'cluster.lockTimeoutSeconds',
      `is ${lockTimeoutSeconds} but must be at least ${minSeconds} (2 × dataHost.heartbeat.intervalMs + timeoutMs): a living instance would lose its locks between two heartbeats`,
    );
  }
  return { cooperation, instanceName, majority, lockTimeoutSeconds };
}
