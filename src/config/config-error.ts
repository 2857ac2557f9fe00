/** A configuration problem report (thrown by validateConfig): every problem at once, not just the first. */
export class ConfigError extends Error {
  /** Each entry is `"<path>: <problem>"`, e.g. `dataHost.writeHosts[1].port: must be an integer 1-65535, got "abc"`. */
  readonly errors: readonly string[];

  constructor(errors: readonly string[], source?: string) {
    const n = errors.length;
    super(
      `invalid configuration${source === undefined ? '' : ` in ${source}`} ` +
        `(${n} problem${n === 1 ? '' : 's'}):\n${errors.map((e) => `  - ${e}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.errors = Object.freeze([...errors]);
  }
}
