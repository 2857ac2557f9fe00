/**
 * The `mariadb` command-line client through Sluice: `-e` and piped SQL, statements split by the
 * client vs one multi-statement packet (DELIMITER), CALL, errors, SQL-level PREPARE/EXECUTE.
 * Script: test/clients/mariadb-cli.mjs (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix, nodeScript, runs } from './harness.js';

clientMatrix({
  name: 'mariadb CLI',
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
  command: () => nodeScript('mariadb-cli.mjs'),
});
