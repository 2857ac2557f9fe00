/**
 * Python MySQLdb (Debian's python3-mysqldb) through Sluice: text protocol only (client-side
 * parameter escaping), its autocommit-off default, multi-statements, CALL, executemany of 1,000
 * rows. Always /usr/bin/python3: a pyenv python3 on PATH does not see Debian's module.
 * Script: test/clients/python-mysqldb.py (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix, CLIENTS_DIR, runs } from './harness.js';
import path from 'node:path';

const PYTHON = '/usr/bin/python3';

clientMatrix({
  name: 'Python MySQLdb',
  checks: [
    'connect',
    'setup',
    'default_autocommit_off_on_primary',
    'autocommit_read_on_replica',
    'transaction_on_primary',
    'types_roundtrip',
    'select_200x_spread_over_replicas',
    'blob_5mb',
    'multi_statement',
    'call_two_result_sets',
    'duplicate_key_1062',
    'executemany_1000_rows',
  ],
  unavailable: () => {
    if (!runs(PYTHON, ['--version'])) return `no ${PYTHON} (Debian: python3)`;
    if (!runs(PYTHON, ['-c', 'import MySQLdb'])) return `${PYTHON} cannot import MySQLdb (Debian: python3-mysqldb)`;
    return undefined;
  },
  command: () => [PYTHON, path.join(CLIENTS_DIR, 'python-mysqldb.py')],
});
