/**
 * PHP PDO_MySQL (mysqlnd) with PDO::ATTR_EMULATE_PREPARES => false through Sluice: server-side
 * prepares for everything but exec(), PDO::PARAM_LOB stream of 5 MiB, prepared CALL.
 * Script: test/clients/php-pdo.php (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix, CLIENTS_DIR, runs } from './harness.js';
import path from 'node:path';

clientMatrix({
  name: 'PHP PDO',
  checks: [
    'connect',
    'setup',
    'emulated_autocommit_read_on_replica',
    'prepared_autocommit_read_on_replica',
    'emulated_transaction_on_primary',
    'prepared_transaction_on_primary',
    'prepared_types_roundtrip',
    'prepared_200x_spread_over_replicas',
    'prepared_blob_5mb_lob_stream',
    'emulated_multi_statement',
    'prepared_call_two_result_sets',
    'prepared_duplicate_key_1062',
    'connection_still_usable_after_error',
  ],
  unavailable: () => {
    if (!runs('php', ['--version'])) return 'no php on PATH (Debian: php-cli)';
    if (!runs('php', ['-r', 'exit(extension_loaded("pdo_mysql") ? 0 : 1);'])) return 'php has no pdo_mysql (Debian: php-mysql)';
    return undefined;
  },
  command: () => ['php', path.join(CLIENTS_DIR, 'php-pdo.php')],
});
