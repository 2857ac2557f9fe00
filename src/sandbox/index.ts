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
export type {
  Sandbox,
  SandboxKind,
  SandboxOptions,
  SandboxPlacement,
  SandboxServer,
  SandboxServerName,
  SandboxTlsFiles,
} from './types.js';
export { generateSandboxTls, type SandboxTls } from './certs.js';
export {
  sandboxProxyConfig,
  SANDBOX_DEFAULT_PORTS,
  SANDBOX_PROXY_ADMIN_USER,
  SANDBOX_DATAHOST,
  sandboxDnIndexFile,
  type SandboxCoordinates,
  type SandboxProxyExtras,
} from './proxy-config.js';
export { PortInUseError, portIsFree } from './ports.js';
export { planSandboxPorts, sandboxBanner, SandboxUsageError, type SandboxPortPlan, type BannerInfo } from './quickstart.js';
