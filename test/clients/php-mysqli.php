<?php
// PHP mysqli (mysqlnd): prepare() + bind_param() (server-side prepared statements),
// send_long_data() for the 5 MiB blob (COM_STMT_SEND_LONG_DATA in 1 MiB chunks), multi_query()
// and a prepared CALL with more_results() / next_result().
//
//   php test/clients/php-mysqli.php HOST PORT USER PASSWORD DATABASE [--direct]

declare(strict_types=1);
require __DIR__ . '/php-common.php';

$a = cc_args();
$P = 'cc_mysqli';
$rep = new CcReporter();
const SPREAD_N = 200;

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

function my_conn(array $a): mysqli
{
    $m = mysqli_init();
    $m->options(MYSQLI_OPT_CONNECT_TIMEOUT, 10);
    $m->options(MYSQLI_OPT_READ_TIMEOUT, 30);
    $m->options(MYSQLI_OPT_INT_AND_FLOAT_NATIVE, 1);
    $m->real_connect($a['host'], $a['user'], $a['password'], $a['database'], $a['port']);
    $m->set_charset('utf8mb4');
    return $m;
}

/** Executes a prepared statement and returns its (first) result set as assoc rows. */
function my_rows(mysqli_stmt $st): array
{
    $st->execute();
    $res = $st->get_result();
    $rows = $res->fetch_all(MYSQLI_ASSOC);
    $res->free();
    return $rows;
}

$rep->check('connect', function () use ($a) {
    $m = my_conn($a);
    $one = $m->query('SELECT 1 AS one')->fetch_row()[0];
    cc_expect((int) $one === 1, 'SELECT 1 returned ' . var_export($one, true));
    return ['serverVersion' => $m->server_info, 'client' => $m->client_info];
});

$rep->check('setup', function () use ($a, $P) {
    $m = my_conn($a);
    foreach (cc_table_ddl($P) as $sql) $m->query($sql);
    return 'tables and procedure created';
});

$rep->check('query_autocommit_read_on_replica', function () use ($a) {
    $m = my_conn($a);
    return cc_replica((int) $m->query('SELECT @@server_id')->fetch_row()[0], $a['direct']);
});

$rep->check('query_transaction_on_primary', function () use ($a) {
    $m = my_conn($a);
    $m->begin_transaction();
    $id = (int) $m->query('SELECT @@server_id')->fetch_row()[0];
    $m->commit();
    return cc_primary($id);
});

$rep->check('prepared_autocommit_read_on_replica', function () use ($a) {
    $m = my_conn($a);
    $rows = my_rows($m->prepare('SELECT @@server_id AS sid'));
    return cc_replica((int) $rows[0]['sid'], $a['direct']);
});

$rep->check('prepared_transaction_on_primary', function () use ($a) {
    $m = my_conn($a);
    $m->begin_transaction();
    $st = $m->prepare('SELECT @@server_id AS sid, ? AS x');
    $x = 1;
    $st->bind_param('i', $x);
    $rows = my_rows($st);
    $m->commit();
    return cc_primary((int) $rows[0]['sid']);
});

$rep->check('prepared_types_roundtrip', function () use ($a, $P) {
    $m = my_conn($a);
    $r = cc_row();
    $st = $m->prepare("INSERT INTO {$P}_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    $id = 1;
    [$i, $b, $d, $f, $s, $dt, $ts, $bl, $nn] = array_values($r);
    $st->bind_param('iiisdssssi', $id, $i, $b, $d, $f, $s, $dt, $ts, $bl, $nn);
    $st->execute();
    $q = $m->prepare("/*master*/ SELECT i, b, d, f, s, dt, ts, bl, nn FROM {$P}_types WHERE id = ?");
    $q->bind_param('i', $id);
    $rows = my_rows($q);
    cc_expect(count($rows) === 1, 'read back ' . count($rows) . ' rows');
    $bad = cc_row_mismatches($rows[0]);
    return ['ok' => !$bad, 'detail' => $bad ?: 'all 9 values equal'];
});

$rep->check('prepared_' . SPREAD_N . 'x_spread_over_replicas', function () use ($a) {
    $m = my_conn($a);
    $st = $m->prepare('SELECT @@server_id AS sid, ? AS echo');
    $k = 0;
    $st->bind_param('i', $k);
    $counts = [];
    for ($k = 0; $k < SPREAD_N; $k++) {
        $row = my_rows($st)[0];
        cc_expect((int) $row['echo'] === $k, "execution $k: parameter came back as " . var_export($row['echo'], true));
        $id = (int) $row['sid'];
        $counts[$id] = ($counts[$id] ?? 0) + 1;
    }
    return cc_spread($counts, SPREAD_N, $a['direct']);
});

// A server-side read-only cursor (COM_STMT_EXECUTE with the cursor flag, then one COM_STMT_FETCH
// per row — mysqlnd's way): every row comes from the one connection that holds the cursor.
$rep->check('prepared_cursor_fetch', function () use ($a) {
    $m = my_conn($a);
    $st = $m->prepare('SELECT @@server_id AS sid, seq FROM seq_1_to_50');
    $st->attr_set(MYSQLI_STMT_ATTR_CURSOR_TYPE, MYSQLI_CURSOR_TYPE_READ_ONLY);
    $st->execute();
    $st->bind_result($sid, $seq);
    $seqs = [];
    $sids = [];
    while ($st->fetch()) {
        $seqs[] = (int) $seq;
        $sids[(int) $sid] = true;
    }
    $st->close();
    cc_expect($seqs === range(1, 50), 'rows ' . json_encode($seqs));
    cc_expect(count($sids) === 1, 'rows from several servers: ' . json_encode(array_keys($sids)));
    // The connection goes on normally afterwards.
    $one = $m->query('SELECT 1')->fetch_row()[0];
    cc_expect((int) $one === 1, 'SELECT 1 after the cursor returned ' . var_export($one, true));
    return cc_replica(array_keys($sids)[0], $a['direct']);
});

$rep->check('send_long_data_blob_5mb', function () use ($a, $P) {
    $m = my_conn($a);
    $blob = cc_big_blob();
    $st = $m->prepare("INSERT INTO {$P}_big (id, data) VALUES (?, ?)");
    $id = 1;
    $null = null;
    $st->bind_param('ib', $id, $null);
    foreach (str_split($blob, 1 << 20) as $chunk) $st->send_long_data(1, $chunk);
    $st->execute();
    $q = $m->prepare("/*master*/ SELECT data FROM {$P}_big WHERE id = ?");
    $q->bind_param('i', $id);
    $got = my_rows($q)[0]['data'] ?? null;
    cc_expect($got === $blob, 'read back ' . strlen((string) $got) . ' bytes sha1 ' . sha1((string) $got) . ', sent ' . strlen($blob) . ' sha1 ' . sha1($blob));
    return ['bytes' => strlen($got), 'sha1' => sha1($got), 'chunks' => count(str_split($blob, 1 << 20))];
});

$rep->check('multi_query', function () use ($a) {
    $m = my_conn($a);
    $m->multi_query('SELECT 1 AS a; SELECT 2 AS b');
    $sets = [];
    do {
        if ($res = $m->store_result()) {
            $sets[] = $res->fetch_all(MYSQLI_ASSOC);
            $res->free();
        }
    } while ($m->more_results() && $m->next_result());
    cc_expect(count($sets) === 2 && (int) $sets[0][0]['a'] === 1 && (int) $sets[1][0]['b'] === 2, 'got ' . json_encode($sets));
    return $sets;
});

$rep->check('prepared_call_two_result_sets', function () use ($a, $P) {
    $m = my_conn($a);
    $st = $m->prepare("CALL {$P}_two(?)");
    $x = 7;
    $st->bind_param('i', $x);
    $st->execute();
    $sets = [];
    do {
        if ($res = $st->get_result()) {
            $sets[] = $res->fetch_all(MYSQLI_ASSOC);
            $res->free();
        }
    } while ($st->more_results() && $st->next_result());
    cc_expect(count($sets) === 2 && (int) $sets[0][0]['a'] === 7 && $sets[1][0]['b'] === 'two-7', 'got ' . json_encode($sets));
    return $sets;
});

$rep->check('prepared_duplicate_key_1062', function () use ($a, $P) {
    $m = my_conn($a);
    $st = $m->prepare("INSERT INTO {$P}_types (id, i) VALUES (?, ?)");
    $id = 1000;
    $i = 1;
    $st->bind_param('ii', $id, $i);
    try {
        $st->execute();
    } catch (mysqli_sql_exception $e) {
        return ['ok' => $e->getCode() === 1062 && $st->errno === 1062, 'detail' => cc_error($e) + ['stmtErrno' => $st->errno]];
    }
    return ['ok' => false, 'detail' => 'the duplicate insert succeeded'];
});

$rep->check('connection_still_usable_after_error', function () use ($a, $P) {
    $m = my_conn($a);
    try {
        $m->query("INSERT INTO {$P}_types (id, i) VALUES (1000, 1)");
    } catch (mysqli_sql_exception) {
    }
    $st = $m->prepare('SELECT ? + 1 AS v');
    $v = 41;
    $st->bind_param('i', $v);
    $got = my_rows($st)[0]['v'];
    cc_expect((int) $got === 42, 'got ' . var_export($got, true));
    return 'SELECT ? + 1 after the 1062 returned 42';
});

$rep->finish();
