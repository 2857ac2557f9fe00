<?php
// PHP PDO_MySQL (mysqlnd) with PDO::ATTR_EMULATE_PREPARES => false: every prepare() is a
// server-side prepared statement (COM_STMT_PREPARE / COM_STMT_EXECUTE). PDO::PARAM_LOB with a
// stream is read into memory by pdo_mysql and sent inline in COM_STMT_EXECUTE (no long data).
// NB: with emulation off even PDO::query() prepares; PDO::exec() is the only text-protocol call.
// The multi-statement and plain-read checks use a second PDO with emulation on (the usual way to
// run `SELECT 1; SELECT 2` with PDO).
//
//   php test/clients/php-pdo.php HOST PORT USER PASSWORD DATABASE [--direct]

declare(strict_types=1);
require __DIR__ . '/php-common.php';

$a = cc_args();
$P = 'cc_pdo';
$rep = new CcReporter();
const SPREAD_N = 200;

function pdo_conn(array $a, bool $emulate = false): PDO
{
    return new PDO(
        "mysql:host={$a['host']};port={$a['port']};dbname={$a['database']};charset=utf8mb4",
        $a['user'],
        $a['password'],
        [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_EMULATE_PREPARES => $emulate,
            PDO::ATTR_STRINGIFY_FETCHES => false,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            PDO::ATTR_TIMEOUT => 10,
        ],
    );
}

$rep->check('connect', function () use ($a) {
    $pdo = pdo_conn($a);
    $pdo->exec('DO 1'); // exec() is always the text protocol; query() here would prepare
    return ['serverVersion' => $pdo->getAttribute(PDO::ATTR_SERVER_VERSION), 'client' => $pdo->getAttribute(PDO::ATTR_CLIENT_VERSION)];
});

$rep->check('setup', function () use ($a, $P) {
    $pdo = pdo_conn($a);
    foreach (cc_table_ddl($P) as $sql) $pdo->exec($sql);
    return 'tables and procedure created';
});

$rep->check('emulated_autocommit_read_on_replica', function () use ($a) {
    $pdo = pdo_conn($a, true);
    return cc_replica((int) $pdo->query('SELECT @@server_id')->fetchColumn(), $a['direct']);
});

$rep->check('prepared_autocommit_read_on_replica', function () use ($a) {
    // With emulation off, PDO::query() is a server-side prepare + execute as well.
    $pdo = pdo_conn($a);
    return cc_replica((int) $pdo->query('SELECT @@server_id AS sid')->fetchColumn(), $a['direct']);
});

$rep->check('emulated_transaction_on_primary', function () use ($a) {
    $pdo = pdo_conn($a, true);
    $pdo->beginTransaction();
    $id = (int) $pdo->query('SELECT @@server_id')->fetchColumn();
    $pdo->commit();
    return cc_primary($id);
});

$rep->check('prepared_transaction_on_primary', function () use ($a) {
    $pdo = pdo_conn($a);
    $pdo->beginTransaction();
    $st = $pdo->prepare('SELECT @@server_id AS sid, ? AS x');
    $st->execute([1]);
    $id = (int) $st->fetchColumn();
    $pdo->commit();
    return cc_primary($id);
});

$rep->check('prepared_types_roundtrip', function () use ($a, $P) {
    $pdo = pdo_conn($a);
    $r = cc_row();
    $st = $pdo->prepare("INSERT INTO {$P}_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    $st->bindValue(1, 1, PDO::PARAM_INT);
    $st->bindValue(2, $r['i'], PDO::PARAM_INT);
    $st->bindValue(3, $r['b'], PDO::PARAM_INT);
    $st->bindValue(4, $r['d'], PDO::PARAM_STR);
    $st->bindValue(5, $r['f'], PDO::PARAM_STR);
    $st->bindValue(6, $r['s'], PDO::PARAM_STR);
    $st->bindValue(7, $r['dt'], PDO::PARAM_STR);
    $st->bindValue(8, $r['ts'], PDO::PARAM_STR);
    $st->bindValue(9, $r['bl'], PDO::PARAM_LOB);
    $st->bindValue(10, null, PDO::PARAM_NULL);
    $st->execute();
    $q = $pdo->prepare("/*master*/ SELECT i, b, d, f, s, dt, ts, bl, nn FROM {$P}_types WHERE id = ?");
    $q->execute([1]);
    $rows = $q->fetchAll();
    cc_expect(count($rows) === 1, 'read back ' . count($rows) . ' rows');
    $bad = cc_row_mismatches($rows[0]);
    return ['ok' => !$bad, 'detail' => $bad ?: 'all 9 values equal'];
});

$rep->check('prepared_' . SPREAD_N . 'x_spread_over_replicas', function () use ($a) {
    $pdo = pdo_conn($a);
    $st = $pdo->prepare('SELECT @@server_id AS sid, ? AS echo');
    $counts = [];
    for ($k = 0; $k < SPREAD_N; $k++) {
        $st->bindValue(1, $k, PDO::PARAM_INT);
        $st->execute();
        $row = $st->fetch();
        $st->closeCursor();
        cc_expect((int) $row['echo'] === $k, "execution $k: parameter came back as " . var_export($row['echo'], true));
        $id = (int) $row['sid'];
        $counts[$id] = ($counts[$id] ?? 0) + 1;
    }
    return cc_spread($counts, SPREAD_N, $a['direct']);
});

$rep->check('prepared_blob_5mb_lob_stream', function () use ($a, $P) {
    $pdo = pdo_conn($a);
    $blob = cc_big_blob();
    $fp = fopen('php://memory', 'r+b');
    fwrite($fp, $blob);
    rewind($fp);
    $st = $pdo->prepare("INSERT INTO {$P}_big (id, data) VALUES (?, ?)");
    $id = 1;
    $st->bindParam(1, $id, PDO::PARAM_INT);
    $st->bindParam(2, $fp, PDO::PARAM_LOB);
    $st->execute();
    $q = $pdo->prepare("/*master*/ SELECT data FROM {$P}_big WHERE id = ?");
    $q->execute([1]);
    $got = $q->fetchColumn();
    if (is_resource($got)) $got = stream_get_contents($got);
    cc_expect($got === $blob, 'read back ' . strlen((string) $got) . ' bytes sha1 ' . sha1((string) $got) . ', sent ' . strlen($blob) . ' sha1 ' . sha1($blob));
    return ['bytes' => strlen($got), 'sha1' => sha1($got)];
});

$rep->check('emulated_multi_statement', function () use ($a) {
    $pdo = pdo_conn($a, true);
    $st = $pdo->query('SELECT 1 AS a; SELECT 2 AS b');
    $sets = [$st->fetchAll()];
    while ($st->nextRowset()) $sets[] = $st->fetchAll();
    cc_expect(count($sets) === 2 && (int) $sets[0][0]['a'] === 1 && (int) $sets[1][0]['b'] === 2, 'got ' . json_encode($sets));
    return $sets;
});

$rep->check('prepared_call_two_result_sets', function () use ($a, $P) {
    $pdo = pdo_conn($a);
    $st = $pdo->prepare("CALL {$P}_two(?)");
    $st->execute([7]);
    $sets = [];
    do {
        $sets[] = $st->fetchAll();
    } while ($st->nextRowset());
    // mysqlnd shows the CALL's closing OK as a last, empty rowset
    while ($sets && end($sets) === []) array_pop($sets);
    cc_expect(count($sets) === 2 && (int) $sets[0][0]['a'] === 7 && $sets[1][0]['b'] === 'two-7', 'got ' . json_encode($sets));
    return $sets;
});

$rep->check('prepared_duplicate_key_1062', function () use ($a, $P) {
    $pdo = pdo_conn($a);
    $st = $pdo->prepare("INSERT INTO {$P}_types (id, i) VALUES (?, ?)");
    try {
        $st->execute([1000, 1]);
    } catch (PDOException $e) {
        return ['ok' => ($e->errorInfo[1] ?? null) === 1062, 'detail' => cc_error($e)];
    }
    return ['ok' => false, 'detail' => 'the duplicate insert succeeded'];
});

$rep->check('connection_still_usable_after_error', function () use ($a, $P) {
    $pdo = pdo_conn($a);
    try {
        $pdo->prepare("INSERT INTO {$P}_types (id, i) VALUES (?, ?)")->execute([1000, 1]);
    } catch (PDOException) {
    }
    $st = $pdo->prepare('SELECT ? + 1 AS v');
    $st->execute([41]);
    $v = $st->fetchColumn();
    cc_expect((int) $v === 42, 'got ' . var_export($v, true));
    return 'SELECT ? + 1 after the 1062 returned 42';
});

$rep->finish();
