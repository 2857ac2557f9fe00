/** Sluice configuration: types, validation (every problem at once), YAML load / atomic save. */
export type * from './types.js';
export { ConfigError } from './config-error.js';
export { CONFIG_DEFAULTS } from './defaults.js';
export { validateConfig, deepFreeze } from './validate.js';
export type { ValidateOptions } from './checker.js';
export { configDifferences, planConfigChange, type ConfigChangePlan, type HostChange } from './live.js';
export { loadConfigFile, parseConfigText, saveConfigFile, serializeConfig } from './load.js';
export { describeConfig, type ConfigBehaviour } from './describe.js';
export { MAX_AUTO_WORKERS, poolShare, resolveWorkers, type WorkerCount } from './workers.js';
