/**
 * mysql2 through Sluice: `query()` (text protocol) and `execute()` (server-side prepared
 * statements), incl. 1,000 executions of one prepared statement spread over both readHosts.
 * Script: test/clients/mysql2.mjs (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix, nodeScript } from './harness.js';

clientMatrix({
  name: 'mysql2',
  checks: [
    'connect',
    'setup',
    'query_autocommit_read_on_replica',
    'query_transaction_on_primary',
    'execute_autocommit_read_on_replica',
    'execute_transaction_on_primary',
    'query_types_roundtrip',
    'execute_types_roundtrip',
    'execute_1000x_spread_over_replicas',
    'execute_blob_5mb',
    'query_multi_statement',
    'query_call_two_result_sets',
    'execute_call_two_result_sets',
    'query_duplicate_key_1062',
    'execute_duplicate_key_1062',
    'connection_still_usable_after_error',
  ],
  unavailable: () => undefined, // a dependency of Sluice itself
  command: () => nodeScript('mysql2.mjs'),
});
