/**
 * PHP mysqli (mysqlnd) through Sluice: prepare + bind_param, a read-only cursor fetched in
 * batches, send_long_data of 5 MiB,
 * multi_query, prepared CALL with next_result.
 * Script: test/clients/php-mysqli.php (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix, CLIENTS_DIR, runs } from './harness.js';
import path from 'node:path';

clientMatrix({
  name: 'PHP mysqli',
  checks: [
    'connect',
    'setup',
    'query_autocommit_read_on_replica',
    'query_transaction_on_primary',
    'prepared_autocommit_read_on_replica',
    'prepared_transaction_on_primary',
    'prepared_types_roundtrip',
    'prepared_200x_spread_over_replicas',
    'prepared_cursor_fetch',
    'send_long_data_blob_5mb',
    'multi_query',
    'prepared_call_two_result_sets',
    'prepared_duplicate_key_1062',
    'connection_still_usable_after_error',
  ],
  unavailable: () => {
    if (!runs('php', ['--version'])) return 'no php on PATH (Debian: php-cli)';
    if (!runs('php', ['-r', 'exit(extension_loaded("mysqli") ? 0 : 1);'])) return 'php has no mysqli (Debian: php-mysql)';
    return undefined;
  },
  command: () => ['php', path.join(CLIENTS_DIR, 'php-mysqli.php')],
});
