/**
 * The `mariadb` npm connector through Sluice: `query()`, `prepare()`/`execute()` (pipelined
 * prepare + execute), 5 MiB blobs as long data (Buffer and stream) and `batch()` of 1,000 rows.
 * Script: test/clients/mariadb-node.mjs (contract and --direct baseline: see ./harness.ts).
 */
import { createRequire } from 'node:module';
import { clientMatrix, nodeScript } from './harness.js';

clientMatrix({
  name: 'mariadb (npm)',
  checks: [
    'connect',
    'setup',
    'query_autocommit_read_on_replica',
    'query_transaction_on_primary',
    'execute_autocommit_read_on_replica',
    'execute_transaction_on_primary',
    'query_types_roundtrip',
    'execute_types_roundtrip',
    'prepare_200x_spread_over_replicas',
    'prepare_blob_5mb_buffer_long_data',
    'execute_blob_5mb_stream_long_data',
    'query_multi_statement',
    'query_call_two_result_sets',
    'execute_call_two_result_sets',
    'query_duplicate_key_1062',
    'execute_duplicate_key_1062',
    'batch_1000_rows',
    'connection_still_usable_after_error',
  ],
  unavailable: () => {
    try {
      createRequire(import.meta.url).resolve('mariadb');
      return undefined;
    } catch {
      return 'the mariadb npm package is not installed (it is a devDependency: npm ci)';
    }
  },
  command: () => nodeScript('mariadb-node.mjs'),
});
