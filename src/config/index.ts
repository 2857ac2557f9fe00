/** Sluice configuration: types, validation (every problem at once), YAML load / atomic save. */
export type * from './types.js';
export { ConfigError, CONFIG_DEFAULTS, validateConfig, deepFreeze, type ValidateOptions } from './validate.js';
export { configDifferences, planConfigChange, type ConfigChangePlan, type HostChange } from './live.js';
export { loadConfigFile, parseConfigText, saveConfigFile, serializeConfig } from './load.js';
export { describeConfig, type ConfigBehaviour } from './describe.js';
