/**
 * Holds the cluster state, applies events through the reducer, logs every transition, and
 * publishes the new view. Routing reads `view` (a frozen value, cheap to read on every statement).
 *
 * `change` fires once per state change with the new view and the transitions that event caused
 * (status changes incl. `to: 'down'`, readable changes, writer switches with fromIndex/toIndex,
 * refused switches). Listeners run synchronously inside `dispatch`; they must not throw.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { reduce, toView } from './reduce.js';
import type { ClusterEvent, ClusterState, Transition } from './state.js';
import type { ClusterView } from './view.js';

export class ClusterStore extends EventEmitter<{ change: [ClusterView, readonly Transition[]] }> {
  private state: ClusterState;
  private current: ClusterView;
  private readonly log: Logger;

  constructor(initial: ClusterState, log: Logger) {
    super();
    this.state = initial;
    this.current = toView(initial);
    this.log = log;
  }

  get view(): ClusterView {
    return this.current;
  }

  get snapshot(): ClusterState {
    return this.state;
  }

  /**
   * Applies one event. Returns the transitions it caused (also when the state did not change,
   * e.g. a refused manual switch), so the admin port can answer with them.
   */
  dispatch(event: ClusterEvent): readonly Transition[] {
    const { state, transitions } = reduce(this.state, event);
    for (const t of transitions) logTransition(this.log, this.state.dataHost, t);
    if (state === this.state) return transitions;
    this.state = state;
    this.current = toView(state);
    this.emit('change', this.current, transitions);
    return transitions;
  }

  /** Manual writer switch (admin `SWITCH @@DATASOURCE dh1:<index>`); see the returned transitions. */
  switchWriter(index: number, reason = 'manual switch'): readonly Transition[] {
    return this.dispatch({ type: 'switch-writer', index, reason });
  }
}

function logTransition(log: Logger, dataHost: string, t: Transition): void {
  switch (t.kind) {
    case 'status':
      log[t.to === 'up' ? 'info' : 'warn']({ dataHost, host: t.hostId, from: t.from, to: t.to, reason: t.reason }, 'backend state change');
      return;
    case 'readable':
      log[t.to ? 'info' : 'warn'](
        { dataHost, host: t.hostId, from: t.from ? 'readable' : 'not readable', to: t.to ? 'readable' : 'not readable', reason: t.reason },
        t.to ? 'backend back in read rotation' : 'backend out of read rotation',
      );
      return;
    case 'writer-switch':
      log.warn(
        {
          dataHost,
          host: t.toHostId,
          from: `${t.fromIndex} (${t.fromHostId})`,
          to: `${t.toIndex} (${t.toHostId})`,
          fromIndex: t.fromIndex,
          toIndex: t.toIndex,
          manual: t.manual,
          reason: t.reason,
        },
        'writeHost switched',
      );
      return;
    case 'writer-refused':
      log.error({ dataHost, host: t.hostId, writerIndex: t.writerIndex, manual: t.manual, reason: t.reason }, 'writeHost switch refused');
      return;
    case 'host-added':
    case 'host-removed':
      log.warn(
        { dataHost, host: t.hostId, role: t.role === 'write' ? 'writeHost' : 'readHost', index: t.index, reason: t.reason },
        t.kind === 'host-added' ? 'backend added' : 'backend removed',
      );
      return;
    case 'topology-refused':
      log.warn({ dataHost, host: t.hostId, reason: t.reason }, 'backend change refused');
      return;
    case 'cooperation':
      log[t.to === 'no-majority' ? 'error' : 'warn']({ dataHost, from: t.from, to: t.to, reason: t.reason }, `cooperation: this instance is ${t.to === 'no-majority' ? 'without a majority of the servers' : t.to}`);
      return;
  }
}
