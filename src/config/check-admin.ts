/** The admin (MySQL-protocol management port) and http (status / metrics) sections. */
import { MAX_PORT, type Checker, type Obj } from './checker.js';
import type { AdminConfig, HttpConfig } from './types.js';

const ADMIN_KEYS = ['host', 'port', 'user', 'password'] as const;
const HTTP_KEYS = ['host', 'port'] as const;

function checkEndpoint<K extends readonly string[]>(c: Checker, root: Obj | undefined, key: 'admin' | 'http', keys: K): Obj | undefined {
  if (root === undefined || !c.present(root, key)) return undefined;
  return c.mapping(root[key], key, keys);
}

export function checkAdmin(c: Checker, root: Obj | undefined): AdminConfig | undefined {
  const o = checkEndpoint(c, root, 'admin', ADMIN_KEYS);
  if (o === undefined) return undefined;
  return {
    host: c.string(o, 'host', 'admin', { def: '127.0.0.1' }),
    port: c.int(o, 'port', 'admin', 0, MAX_PORT, 9066),
    user: c.string(o, 'user', 'admin'),
    password: c.string(o, 'password', 'admin', { allowEmpty: true }),
  };
}

export function checkHttp(c: Checker, root: Obj | undefined): HttpConfig | undefined {
  const o = checkEndpoint(c, root, 'http', HTTP_KEYS);
  if (o === undefined) return undefined;
  return { host: c.string(o, 'host', 'http', { def: '127.0.0.1' }), port: c.int(o, 'port', 'http', 0, MAX_PORT, 9067) };
}
