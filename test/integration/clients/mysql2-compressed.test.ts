/**
 * The mysql2 matrix (./mysql2.test.ts) again with `compress: true` on every connection: the
 * compressed protocol between the client and Sluice.
 */
import { clientMatrix } from './harness.js';
import { mysql2Matrix } from './matrices.js';

clientMatrix(mysql2Matrix(true));
