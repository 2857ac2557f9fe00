/**
 * Request/answer over an IPC channel: each request carries an id, the answer names it. A request
 * that is not answered in time fails (a worker that hangs or died must not hang an admin
 * command or a client's login).
 */
export class Rpc<Q> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly send: (msg: { t: 'req'; id: number; q: Q }) => void,
    private readonly timeoutMs = 5_000,
  ) {}

  request<T>(q: Q): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.send({ t: 'req', id, q });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  /** An answer arrived. */
  answer(msg: { id: number; value?: unknown; error?: string }): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.value);
  }

  /** The other side is gone: every open request fails now. */
  failAll(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
      this.pending.delete(id);
    }
  }
}

/** Answers a request with `handle`'s result or its error. */
export async function serve<Q>(
  msg: { id: number; q: Q },
  handle: (q: Q) => unknown,
  reply: (m: { t: 'res'; id: number; value?: unknown; error?: string }) => void,
): Promise<void> {
  try {
    reply({ t: 'res', id: msg.id, value: await handle(msg.q) });
  } catch (err) {
    reply({ t: 'res', id: msg.id, error: (err as Error).message });
  }
}
