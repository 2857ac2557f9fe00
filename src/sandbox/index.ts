/** Local primary + replicas from the MariaDB / MySQL binaries on this machine (quick start and tests). */
export {
  startSandbox,
  DEFAULT_SANDBOX_BASE_PORT,
  SANDBOX_DATABASE,
  SANDBOX_ADMIN,
  SANDBOX_APP,
  SANDBOX_REPL,
} from './sandbox.js';
export { findServerBinary, parseServerVersion, type ServerBinary } from './binaries.js';
export { APP_PRIVILEGES } from './flavor.js';
export type { Sandbox, SandboxKind, SandboxOptions, SandboxServer, SandboxServerName, SandboxTlsFiles } from './types.js';
export { generateSandboxTls, type SandboxTls } from './certs.js';
export { sandboxProxyConfig, type SandboxCoordinates } from './proxy-config.js';
