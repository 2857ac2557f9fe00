/**
 * MariaDB Connector/J (Debian's libmariadb-java) with useServerPrepStmts=true through Sluice:
 * typed setters, setBinaryStream of 5 MiB (long data), CallableStatement, addBatch/executeBatch
 * of 1,000 rows. The program is compiled with javac into a temporary directory at test time.
 * Script: test/clients/ConnectorJ.java (contract and --direct baseline: see ./harness.ts).
 */
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { clientMatrix, CLIENTS_DIR, connectorJJar, runs, tempDir } from './harness.js';

let build: { dir: string; remove: () => Promise<void> } | undefined;

clientMatrix({
  name: 'Connector/J',
  checks: [
    'connect',
    'setup',
    'statement_autocommit_read_on_replica',
    'statement_transaction_on_primary',
    'prepared_autocommit_read_on_replica',
    'prepared_transaction_on_primary',
    'prepared_types_roundtrip',
    'prepared_200x_spread_over_replicas',
    'prepared_blob_5mb_binary_stream',
    'multi_statement',
    'prepared_call_two_result_sets',
    'prepared_duplicate_key_1062',
    'prepared_execute_batch_1000_rows',
    'connection_still_usable_after_error',
  ],
  unavailable: () => {
    if (!runs('javac', ['-version']) || !runs('java', ['-version'])) return 'no JDK (javac / java) on PATH';
    if (connectorJJar() === undefined) return 'no /usr/share/java/mariadb-java-client*.jar (Debian: libmariadb-java)';
    return undefined;
  },
  command: async () => {
    const jar = connectorJJar()!;
    build = await tempDir('sluice-connectorj-');
    await promisify(execFile)('javac', ['-encoding', 'UTF-8', '-d', build.dir, '-cp', jar, path.join(CLIENTS_DIR, 'ConnectorJ.java')], {
      timeout: 60_000,
    });
    return ['java', '-Dfile.encoding=UTF-8', '-cp', `${build.dir}${path.delimiter}${jar}`, 'ConnectorJ'];
  },
  timeoutMs: 90_000,
  cleanup: async () => {
    await build?.remove();
  },
});
