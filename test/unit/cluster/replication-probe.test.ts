/** Parsing SHOW REPLICA / SLAVE STATUS in both spellings, and the fallback on a syntax error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplicaStatus, probeReplication } from '../../../src/cluster/monitor.js';

test('MySQL 8.0.22+ / 8.4 column names', () => {
  assert.deepEqual(
    parseReplicaStatus([
      {
        Replica_IO_Running: 'Yes',
        Replica_SQL_Running: 'Yes',
        Seconds_Behind_Source: 3,
        Source_Host: 'db1.example',
        Source_Port: 3306,
        Last_IO_Error: '',
        Last_SQL_Error: '',
      },
    ]),
    { isReplica: true, ioRunning: true, ioState: 'yes', sqlRunning: true, lagSeconds: 3, sourceHost: 'db1.example', sourcePort: 3306 },
  );
});

test('MariaDB / old MySQL column names, stopped threads, NULL lag, errors', () => {
  assert.deepEqual(
    parseReplicaStatus([
      {
        Slave_IO_Running: 'Connecting',
        Slave_SQL_Running: 'No',
        Seconds_Behind_Master: null,
        Master_Host: '127.0.0.1',
        Master_Port: '3311',
        Last_IO_Error: 'error reconnecting',
        Last_SQL_Error: 'Duplicate entry',
      },
    ]),
    {
      isReplica: true,
      ioRunning: false,
      ioState: 'connecting',
      sqlRunning: false,
      lagSeconds: null,
      sourceHost: '127.0.0.1',
      sourcePort: 3311,
      threadError: 'Duplicate entry; error reconnecting',
    },
  );
  assert.equal(parseReplicaStatus([{ Slave_IO_Running: 'No', Slave_SQL_Running: 'Yes' }]).ioState, 'no');
  // A stopped replica whose only error is that its source could not be reached, and ones that say more.
  const stopped = { Slave_IO_Running: 'No', Slave_SQL_Running: 'No', Last_IO_Error: "error reconnecting to master 'repl@127.0.0.1:3311'" };
  assert.equal(parseReplicaStatus([{ ...stopped, Last_IO_Errno: 2003 }]).sourceUnreachable, true);
  assert.equal(parseReplicaStatus([{ ...stopped, Last_IO_Errno: 1236 }]).sourceUnreachable, undefined, 'a diverged GTID is not a connect error');
  assert.equal(parseReplicaStatus([{ ...stopped, Last_IO_Errno: 2003, Last_SQL_Error: 'Duplicate entry' }]).sourceUnreachable, undefined);
  assert.equal(parseReplicaStatus([{ Replica_IO_Running: 'Connecting', Replica_SQL_Running: 'Yes' }]).ioState, 'connecting');
  assert.equal(parseReplicaStatus([{ Slave_IO_Running: 'Preparing', Slave_SQL_Running: 'Yes' }]).ioState, 'no', 'unknown → stopped');
  assert.equal(parseReplicaStatus([{ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: '12' }]).lagSeconds, 12);
});

test('an empty result is "not a replica"', () => {
  assert.deepEqual(parseReplicaStatus([]), { isReplica: false, ioRunning: false, ioState: 'no', sqlRunning: false, lagSeconds: null });
});

test('falls back to SHOW SLAVE STATUS on a syntax error, and only then', async () => {
  const seen: string[] = [];
  const old = async (sql: string) => {
    seen.push(sql);
    if (sql === 'SHOW REPLICA STATUS') throw Object.assign(new Error('You have an error in your SQL syntax'), { errno: 1064, code: 'ER_PARSE_ERROR' });
    return [{ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 0 }];
  };
  const r = await probeReplication(old);
  assert.equal(r.spelling, 'SLAVE');
  assert.equal(r.status.ioRunning, true);
  assert.deepEqual(seen, ['SHOW REPLICA STATUS', 'SHOW SLAVE STATUS']);
  // The remembered spelling is used directly next time.
  seen.length = 0;
  await probeReplication(old, r.spelling);
  assert.deepEqual(seen, ['SHOW SLAVE STATUS']);
  // Other errors (privileges, connection) are not a reason to try the other spelling.
  const denied = async () => {
    throw Object.assign(new Error('Access denied; you need the REPLICATION CLIENT privilege'), { errno: 1227 });
  };
  await assert.rejects(probeReplication(denied), /Access denied/);
});
