/**
 * mysql2 through Sluice: `query()` (text protocol) and `execute()` (server-side prepared
 * statements), incl. 1,000 executions of one prepared statement spread over both readHosts.
 * Script: test/clients/mysql2.mjs (contract and --direct baseline: see ./harness.ts).
 */
import { clientMatrix } from './harness.js';
import { mysql2Matrix } from './matrices.js';

clientMatrix(mysql2Matrix(false));
