/**
 * The two ways backends are numbered, in one place so every output agrees:
 *
 *  - backend_ndx (Atlas): 1-based position over all backends, writeHosts first, as
 *    `SELECT * FROM backends` lists them. `SET OFFLINE n`, `SET ONLINE n` and `REMOVE BACKEND n`
 *    take it.
 *  - the writeHost index (Mycat): 0-based position among the writeHosts, the INDEX of a W row of
 *    `SHOW @@DATASOURCE` and what the dnindex records. `SWITCH @@DATASOURCE dataHost:i` takes it.
 *    readHosts have their own 0-based index, which no command takes.
 *
 * The admin views, /status.json and the status page all read their numbers from here.
 */
import type { ClusterView, HostView } from '../cluster/view.js';

/** backend_ndx of the host at position `i` of `view.hosts`. */
export function backendNdx(i: number): number {
  return i + 1;
}

/** The host a backend_ndx names, if any. */
export function hostByNdx(view: ClusterView, ndx: number): HostView | undefined {
  return Number.isInteger(ndx) && ndx >= 1 ? view.hosts[ndx - 1] : undefined;
}

/** The argument `SWITCH @@DATASOURCE` takes to make this host the writer (`dh1:0`); null for readHosts. */
export function switchDatasourceArg(view: ClusterView, h: HostView): string | null {
  return h.role === 'write' ? `${view.dataHost}:${h.index}` : null;
}

/** `writeHost[0]` / `readHost[1]`: the role and its 0-based index among the hosts of that role. */
export function roleName(h: HostView): string {
  return `${h.role === 'write' ? 'writeHost' : 'readHost'}[${h.index}]`;
}

/** What the numbers mean, for `SELECT * FROM help`: one line naming the commands that take each number. */
export const NUMBERING_HELP =
  'backend_ndx (1-based over all backends: SELECT * FROM backends, BACKEND_NDX of SHOW @@DATASOURCE) is what SET OFFLINE n, SET ONLINE n and REMOVE BACKEND n take; ' +
  'SWITCH @@DATASOURCE dataHost:i takes the writeHost index i (0-based among writeHosts: INDEX of a W row of SHOW @@DATASOURCE, switch_datasource of SELECT * FROM backends)';
