/**
 * The mariadb CLI matrix (./mariadb-cli.test.ts) again with `--compress`: the compressed
 * protocol as libmariadb speaks it.
 */
import { clientMatrix } from './harness.js';
import { mariadbCliMatrix } from './matrices.js';

clientMatrix(mariadbCliMatrix(true));
