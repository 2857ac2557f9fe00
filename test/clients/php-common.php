<?php
// Shared by php-pdo.php and php-mysqli.php. Same contract as every client script (see
// common.mjs): `php SCRIPT HOST PORT USER PASSWORD DATABASE [--direct]`, one JSON line per check
// {"check", "ok", "detail", "ms"[, "skip"]}, exit 0 when every check passed.

declare(strict_types=1);

error_reporting(E_ALL);
ini_set('display_errors', 'stderr');
ini_set('precision', '-1');            // floats print (and bind as strings) round-trip exact
ini_set('serialize_precision', '-1');
ini_set('mysqlnd.net_read_timeout', '30');

const REPLICA_IDS = [2, 3];
const PRIMARY_ID = 1;

function cc_args(): array
{
    $argv = array_slice($_SERVER['argv'], 1);
    $direct = in_array('--direct', $argv, true);
    $pos = array_values(array_filter($argv, fn ($a) => $a !== '--direct'));
    return [
        'host' => $pos[0] ?? (getenv('SLUICE_HOST') ?: '127.0.0.1'),
        'port' => (int) ($pos[1] ?? (getenv('SLUICE_PORT') ?: '8066')),
        'user' => $pos[2] ?? (getenv('SLUICE_USER') ?: 'app'),
        'password' => $pos[3] ?? (getenv('SLUICE_PASSWORD') ?: 'app'),
        'database' => $pos[4] ?? (getenv('SLUICE_DATABASE') ?: 'sluice_test'),
        'direct' => $direct,
    ];
}

/** The row every client writes through prepared statements and reads back exactly. */
function cc_row(): array
{
    return [
        'i' => -2147483648,
        'b' => 9007199254740993,          // 2^53 + 1
        'd' => '12345678901234.123456',
        'f' => 3.141592653589793,
        's' => "h\u{e9}llo w\u{f6}rld \u{1F42C} \u{2713}",
        'dt' => '2024-02-29',
        'ts' => '2024-02-29 23:59:58.123456',
        'bl' => implode('', array_map('chr', range(0, 255))),
        'nn' => null,
    ];
}

/** Mismatches between a fetched row (any PHP types) and cc_row(), compared as canonical strings. */
function cc_row_mismatches(array $got): array
{
    $want = cc_row();
    $bad = [];
    foreach ($want as $k => $w) {
        $g = $got[$k] ?? null;
        $ws = $w === null ? null : ($k === 'bl' ? bin2hex((string) $w) : (string) $w);
        $gs = $g === null ? null : ($k === 'bl' ? bin2hex((string) $g) : (string) $g);
        if ($ws !== $gs) $bad[$k] = ['want' => $ws, 'got' => $gs, 'gotType' => get_debug_type($g)];
    }
    return $bad;
}

function cc_table_ddl(string $p): array
{
    return [
        "DROP TABLE IF EXISTS {$p}_types",
        "CREATE TABLE {$p}_types (id INT PRIMARY KEY, i INT, b BIGINT, d DECIMAL(20,6), f DOUBLE, "
            . "s VARCHAR(64), dt DATE, ts DATETIME(6), bl BLOB, nn INT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "DROP TABLE IF EXISTS {$p}_big",
        "CREATE TABLE {$p}_big (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB",
        "DROP TABLE IF EXISTS {$p}_batch",
        "CREATE TABLE {$p}_batch (id INT PRIMARY KEY, v VARCHAR(32), n BIGINT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "DROP PROCEDURE IF EXISTS {$p}_two",
        "CREATE PROCEDURE {$p}_two(IN x INT) BEGIN SELECT x AS a; SELECT CONCAT('two-', x) AS b; END",
        "INSERT INTO {$p}_types (id, i) VALUES (1000, 0)",
    ];
}

/** 5 MiB of random bytes (every byte value, no pattern a proxy bug could hide behind). */
function cc_big_blob(): string
{
    return random_bytes(5 * 1024 * 1024);
}

final class CcReporter
{
    public int $failed = 0;

    public function check(string $name, callable $fn): void
    {
        $t = microtime(true);
        try {
            $r = $fn();
            $res = is_array($r) && array_key_exists('ok', $r) ? $r : ['ok' => true, 'detail' => $r];
        } catch (Throwable $e) {
            $res = ['ok' => false, 'detail' => cc_error($e)];
        }
        $this->emit($name, $res, (int) round((microtime(true) - $t) * 1000));
    }

    private function emit(string $name, array $res, int $ms): void
    {
        if (!$res['ok']) $this->failed++;
        $line = ['check' => $name, 'ok' => (bool) $res['ok'], 'detail' => $res['detail'] ?? null, 'ms' => $ms];
        if (isset($res['skip'])) $line['skip'] = $res['skip'];
        fwrite(STDOUT, json_encode($line, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR) . "\n");
    }

    public function finish(): never
    {
        exit($this->failed === 0 ? 0 : 1);
    }
}

function cc_error(Throwable $e): array
{
    $d = ['error' => $e->getMessage(), 'class' => get_class($e)];
    if ($e instanceof PDOException && is_array($e->errorInfo)) {
        $d['sqlState'] = $e->errorInfo[0] ?? null;
        $d['errno'] = $e->errorInfo[1] ?? null;
    } elseif ($e instanceof mysqli_sql_exception) {
        $d['errno'] = $e->getCode();
        $d['sqlState'] = $e->getSqlState();
    }
    return $d;
}

function cc_expect(bool $cond, string $what): void
{
    if (!$cond) throw new RuntimeException($what);
}

function cc_replica(int $id, bool $direct): array
{
    if ($direct) return ['ok' => true, 'detail' => ['serverId' => $id], 'skip' => 'direct to the primary: routing not asserted'];
    return ['ok' => in_array($id, REPLICA_IDS, true), 'detail' => ['serverId' => $id]];
}

function cc_primary(int $id): array
{
    return ['ok' => $id === PRIMARY_ID, 'detail' => ['serverId' => $id]];
}

function cc_spread(array $counts, int $total, bool $direct): array
{
    ksort($counts);
    $detail = ['executions' => $total, 'byServerId' => (object) $counts];
    if ($direct) return ['ok' => $total > 0, 'detail' => $detail, 'skip' => 'direct to the primary: routing not asserted'];
    $ids = array_keys($counts);
    return ['ok' => $ids === REPLICA_IDS, 'detail' => $detail];
}
