/**
 * Check lists of the client matrices that run more than once (plain, and with compression), so
 * both runs check the same things.
 */
import { nodeScript, runs, type ClientSpec } from './harness.js';

/** mysql2: `query()` (text) and `execute()` (server-side prepared), `--compress` optional. */
export function mysql2Matrix(compress: boolean): ClientSpec {
  return {
    name: compress ? 'mysql2 compressed' : 'mysql2',
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
    command: () => (compress ? [...nodeScript('mysql2.mjs'), '--compress'] : nodeScript('mysql2.mjs')),
  };
}

/** The `mariadb` command-line client, `--compress` optional. */
export function mariadbCliMatrix(compress: boolean): ClientSpec {
  return {
    name: compress ? 'mariadb CLI compressed' : 'mariadb CLI',
    checks: [
      'connect',
      'setup',
      'autocommit_read_on_replica',
      'transaction_on_primary',
      'select_200x_spread_over_replicas',
      'types_roundtrip',
      'multi_statement_e',
      'multi_statement_one_packet_on_primary',
      'call_two_result_sets',
      'duplicate_key_1062',
      'sql_prepare_execute',
    ],
    unavailable: () =>
      runs('mariadb', ['--version']) || runs('mysql', ['--version']) ? undefined : 'no mariadb / mysql client on PATH (Debian: mariadb-client)',
    command: () => (compress ? [...nodeScript('mariadb-cli.mjs'), '--compress'] : nodeScript('mariadb-cli.mjs')),
  };
}
