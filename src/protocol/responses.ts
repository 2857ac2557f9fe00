/**
 * Server responses, in one import: OK/ERR/EOF and status flags (status-packets.ts) and
 * text resultsets (resultset.ts).
 */
export * from './status-packets.js';
export * from './resultset.js';
