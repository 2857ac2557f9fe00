/** Config sections about the clients: listen, users (passwords and auth plugins), clients. */
import { isIP } from 'node:net';
import { MAX_PORT, type Checker, type Obj } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { FrontendAuthPlugin, FrontendUser, ListenConfig } from './types.js';

/** `*` + 40 hex: a stored mysql_native_password hash (SHA1(SHA1(pw))). */
export const NATIVE_HASH_FORM = /^\*[0-9a-fA-F]{40}$/;
/** `sha2:` + 64 hex: a stored caching_sha2_password digest (SHA256(SHA256(pw))). */
export const CACHING_SHA2_DIGEST_FORM = /^sha2:[0-9a-fA-F]{64}$/;

const AUTH_PLUGINS: readonly FrontendAuthPlugin[] = ['mysql_native_password', 'caching_sha2_password'];
const LISTEN_KEYS = ['host', 'port'] as const;
const USER_KEYS = ['name', 'password', 'defaultSchema', 'auth', 'maxConnections'] as const;

export function checkListen(c: Checker, root: Obj | undefined): ListenConfig {
  const p = 'listen';
  const o = root === undefined ? undefined : c.present(root, 'listen') ? c.mapping(root['listen'], p, LISTEN_KEYS) : undefined;
  if (root !== undefined && !c.present(root, 'listen')) c.problem(p, 'is required (host and port the proxy listens on)');
  return {
    host: c.string(o, 'host', p, { def: CONFIG_DEFAULTS.listenHost }),
    // 0 = any free port (tests); the bound port is then whatever the listener reports.
    port: c.int(o, 'port', p, 0, MAX_PORT),
  };
}

export function checkUsers(c: Checker, root: Obj | undefined): FrontendUser[] {
  const list = c.list(root, 'users', '', true);
  const seen = new Map<string, number>();
  return list.map((raw, i) => {
    const p = `users[${i}]`;
    const o = c.mapping(raw, p, USER_KEYS);
    const name = c.string(o, 'name', p);
    const password = c.string(o, 'password', p, { allowEmpty: true });
    const user: { name: string; password: string; defaultSchema?: string; auth?: FrontendAuthPlugin; maxConnections?: number } = {
      name,
      password,
    };
    if (c.present(o, 'defaultSchema')) user.defaultSchema = c.string(o, 'defaultSchema', p);
    if (c.present(o, 'maxConnections')) user.maxConnections = c.int(o, 'maxConnections', p, 0, 1_000_000);
    if (c.present(o, 'auth')) user.auth = c.oneOf(o, 'auth', p, AUTH_PLUGINS, CONFIG_DEFAULTS.userAuth);
    const plugin = user.auth ?? CONFIG_DEFAULTS.userAuth;
    if (plugin === 'caching_sha2_password' && NATIVE_HASH_FORM.test(password)) {
      c.problem(
        `${p}.password`,
        'a mysql_native_password hash ("*<40 hex>") cannot authenticate a caching_sha2_password user; ' +
          'give the plain password or "sha2:<hex of SHA256(SHA256(password))>"',
      );
    } else if (plugin === 'mysql_native_password' && /^sha2:/i.test(password)) {
      c.problem(
        `${p}.password`,
        CACHING_SHA2_DIGEST_FORM.test(password)
          ? 'a caching_sha2_password digest ("sha2:<64 hex>") cannot authenticate a mysql_native_password user; ' +
              'give the plain password or "*<40 hex>", or set auth: caching_sha2_password'
          : 'starts with "sha2:" but is not "sha2:" + 64 hex digits (passwords of that shape are reserved for digests)',
      );
    } else if (plugin === 'caching_sha2_password' && /^sha2:/i.test(password) && !CACHING_SHA2_DIGEST_FORM.test(password)) {
      c.problem(`${p}.password`, 'starts with "sha2:" but is not "sha2:" + 64 hex digits');
    }
    if (name !== '') {
      const first = seen.get(name);
      if (first !== undefined) c.problem(`${p}.name`, `duplicate user ${JSON.stringify(name)} (also users[${first}])`);
      else seen.set(name, i);
    }
    return user;
  });
}

/** IPv4/IPv6 address or CIDR block. */
function isAddressOrCidr(v: string): boolean {
  const [addr, bits, extra] = v.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

export function checkClients(c: Checker, root: Obj | undefined): string[] {
  return c.list(root, 'clients', '', false).map((raw, i) => {
    const p = `clients[${i}]`;
    if (typeof raw !== 'string' || !isAddressOrCidr(raw.trim())) {
      c.problem(p, `must be an IP address or CIDR block (e.g. 10.0.0.0/8), got ${JSON.stringify(raw)}`);
      return '';
    }
    return raw.trim();
  });
}
