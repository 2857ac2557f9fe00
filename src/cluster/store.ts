/**
 * Holds the cluster state, applies events through the reducer, and publishes the new view.
 * Routing reads `view` (a frozen value, cheap to read on every statement).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { reduce, toView, type ClusterEvent, type ClusterState, type Transition } from './reduce.js';
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

  dispatch(event: ClusterEvent): void {
    const { state, transitions } = reduce(this.state, event);
    if (state === this.state) return;
    this.state = state;
    this.current = toView(state);
    for (const t of transitions) {
      this.log.warn({ host: t.hostId, from: t.from, to: t.to, reason: t.reason }, 'backend state change');
    }
    this.emit('change', this.current, transitions);
  }
}
