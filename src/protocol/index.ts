/**
 * Sluice's MySQL wire codec: pure functions and small classes over Buffers, no sockets, nothing
 * imported from the rest of `src/`. Decoders are total and throw only `ProtocolError`.
 */
export * from './constants.js';
export * from './errors.js';
export * from './error-codes.js';
export * from './reader.js';
export * from './writer.js';
export * from './framer.js';
export * from './compressed.js';
export * from './handshake.js';
export * from './auth.js';
export * from './responses.js';
export * from './statements.js';
export * from './commands.js';
export * from './collations.js';
