/**
 * Perl DBI + DBD::MariaDB (Debian's libdbd-mariadb-perl) through Sluice, with server-side
 * prepares (mariadb_server_prepare=1, no fallback to text): typed bind_param, 5 MiB blob,
 * multi-statements and CALL on the text protocol.
 * Script: test/clients/perl-dbi.pl (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix, CLIENTS_DIR, runs } from './harness.js';
import path from 'node:path';

clientMatrix({
  name: 'Perl DBD::MariaDB',
  checks: [
    'connect',
    'setup',
    'text_autocommit_read_on_replica',
    'text_transaction_on_primary',
    'prepared_autocommit_read_on_replica',
    'prepared_transaction_on_primary',
    'prepared_types_roundtrip',
    'prepared_200x_spread_over_replicas',
    'prepared_blob_5mb',
    'multi_statement',
    'text_call_two_result_sets',
    'prepared_duplicate_key_1062',
    'connection_still_usable_after_error',
  ],
  unavailable: () => {
    if (!runs('perl', ['-e', '1'])) return 'no perl on PATH';
    if (!runs('perl', ['-MDBI', '-MDBD::MariaDB', '-MJSON::PP', '-e', '1'])) return 'perl has no DBD::MariaDB (Debian: libdbd-mariadb-perl)';
    return undefined;
  },
  command: () => ['perl', path.join(CLIENTS_DIR, 'perl-dbi.pl')],
});
