/**
 * The mariadb CLI matrix (./mariadb-cli.test.ts) again with `--compress`: the compressed
 * protocol as libmariadb speaks it.
 */
import { clientMatrix, nodeScript, runs } from './harness.js';

clientMatrix({
  name: 'mariadb CLI compressed',
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
  command: () => [...nodeScript('mariadb-cli.mjs'), '--compress'],
});
