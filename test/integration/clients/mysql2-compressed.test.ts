/**
 * The mysql2 matrix (./mysql2.test.ts) again with `compress: true` on every connection: the
 * compressed protocol between the client and Sluice.
 */
import { clientMatrix, nodeScript } from './harness.js';

clientMatrix({
  name: 'mysql2 compressed',
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
  command: () => [...nodeScript('mysql2.mjs'), '--compress'],
});
