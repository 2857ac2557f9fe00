/**
 * The `mariadb` command-line client through Sluice: `-e` and piped SQL, statements split by the
 * client vs one multi-statement packet (DELIMITER), CALL, errors, SQL-level PREPARE/EXECUTE.
 * Script: test/clients/mariadb-cli.mjs (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix } from './harness.js';
import { mariadbCliMatrix } from './matrices.js';

clientMatrix(mariadbCliMatrix(false));
