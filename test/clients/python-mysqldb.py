#!/usr/bin/python3
"""Python MySQLdb (mysqlclient, Debian's python3-mysqldb, on libmariadb).

MySQLdb has no server-side prepared statements: parameters are escaped into the SQL text on the
client (text protocol only), and executemany() on an INSERT is rewritten into one multi-row
INSERT. Its connections start with autocommit OFF (it sends `SET autocommit=0` right after
login) unless autocommit=True is passed: the first check pins that behaviour.

Run it with /usr/bin/python3 (the Debian package installs into the system interpreter; a pyenv
`python3` on PATH does not see it):

    /usr/bin/python3 test/clients/python-mysqldb.py HOST PORT USER PASSWORD DATABASE [--direct]

Output contract: see common.mjs (one JSON line per check).
"""
import datetime
import decimal
import json
import os
import sys
import time

REPLICA_IDS = [2, 3]
PRIMARY_ID = 1
P = "cc_py"
SPREAD_N = 200
BATCH_N = 1000

argv = sys.argv[1:]
DIRECT = "--direct" in argv
pos = [a for a in argv if a != "--direct"]
env = os.environ
HOST = pos[0] if len(pos) > 0 else env.get("SLUICE_HOST", "127.0.0.1")
PORT = int(pos[1] if len(pos) > 1 else env.get("SLUICE_PORT", "8066"))
USER = pos[2] if len(pos) > 2 else env.get("SLUICE_USER", "app")
PASSWORD = pos[3] if len(pos) > 3 else env.get("SLUICE_PASSWORD", "app")
DATABASE = pos[4] if len(pos) > 4 else env.get("SLUICE_DATABASE", "sluice_test")

ROW = {
    "i": -2147483648,
    "b": 9007199254740993,
    "d": decimal.Decimal("12345678901234.123456"),
    "f": 3.141592653589793,
    "s": "h\u00e9llo w\u00f6rld \U0001F42C \u2713",
    "dt": datetime.date(2024, 2, 29),
    "ts": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
    "bl": bytes(range(256)),
    "nn": None,
}

failed = 0
import_error = None
try:
    import MySQLdb
except Exception as e:  # reported by the connect check
    import_error = e


def emit(name, ok, detail, ms, skip=None):
    global failed
    if not ok:
        failed += 1
    line = {"check": name, "ok": bool(ok), "detail": detail, "ms": ms}
    if skip is not None:
        line["skip"] = skip
    sys.stdout.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def error_detail(e):
    d = {"error": str(e), "class": type(e).__name__}
    if getattr(e, "args", None) and isinstance(e.args[0], int):
        d["errno"] = e.args[0]
        if len(e.args) > 1:
            d["error"] = e.args[1]
    return d


def check(name):
    def deco(fn):
        t = time.time()
        try:
            r = fn()
            res = r if isinstance(r, dict) and "ok" in r else {"ok": True, "detail": r}
        except Exception as e:
            res = {"ok": False, "detail": error_detail(e)}
        emit(name, res["ok"], res.get("detail"), int((time.time() - t) * 1000), res.get("skip"))
        return fn

    return deco


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def connect(**kw):
    args = dict(host=HOST, port=PORT, user=USER, passwd=PASSWORD, db=DATABASE, charset="utf8mb4",
                connect_timeout=10, read_timeout=30, write_timeout=30, autocommit=True)
    args.update(kw)
    return MySQLdb.connect(**args)


class conn_of:
    """`with conn_of() as c:` opens a connection and always closes it."""

    def __init__(self, **kw):
        self.kw = kw

    def __enter__(self):
        self.c = connect(**self.kw)
        return self.c

    def __exit__(self, *exc):
        try:
            self.c.close()
        except Exception:
            pass
        return False


def one(c, sql, params=None):
    cur = c.cursor()
    cur.execute(sql, params)
    row = cur.fetchone()
    cur.close()
    return row


def replica(sid):
    if DIRECT:
        return {"ok": True, "detail": {"serverId": sid}, "skip": "direct to the primary: routing not asserted"}
    return {"ok": sid in REPLICA_IDS, "detail": {"serverId": sid}}


def primary(sid):
    return {"ok": sid == PRIMARY_ID, "detail": {"serverId": sid}}


def spread(counts, total):
    detail = {"executions": total, "byServerId": {str(k): v for k, v in sorted(counts.items())}}
    if DIRECT:
        return {"ok": total > 0, "detail": detail, "skip": "direct to the primary: routing not asserted"}
    return {"ok": sorted(counts) == REPLICA_IDS, "detail": detail}


def canon(k, v):
    if v is None:
        return None
    if k == "bl":
        return bytes(v).hex()
    if k == "f":
        return repr(float(v))
    if k == "ts":
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if k == "dt":
        return v.isoformat()
    return str(v)


@check("connect")
def _():
    if import_error is not None:
        raise import_error
    with conn_of() as c:
        expect(one(c, "SELECT 1")[0] == 1, "SELECT 1 failed")
        return {"serverVersion": c.get_server_info(), "mysqldb": MySQLdb.__version__ if hasattr(MySQLdb, "__version__") else str(MySQLdb.version_info)}


@check("setup")
def _():
    with conn_of() as c:
        cur = c.cursor()
        for sql in [
            f"DROP TABLE IF EXISTS {P}_types",
            f"CREATE TABLE {P}_types (id INT PRIMARY KEY, i INT, b BIGINT, d DECIMAL(20,6), f DOUBLE, "
            "s VARCHAR(64), dt DATE, ts DATETIME(6), bl BLOB, nn INT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            f"DROP TABLE IF EXISTS {P}_big",
            f"CREATE TABLE {P}_big (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB",
            f"DROP TABLE IF EXISTS {P}_batch",
            f"CREATE TABLE {P}_batch (id INT PRIMARY KEY, v VARCHAR(32), n BIGINT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            f"DROP PROCEDURE IF EXISTS {P}_two",
            f"CREATE PROCEDURE {P}_two(IN x INT) BEGIN SELECT x AS a; SELECT CONCAT('two-', x) AS b; END",
            f"INSERT INTO {P}_types (id, i) VALUES (1000, 0)",
        ]:
            cur.execute(sql)
        return "tables and procedure created"


@check("default_autocommit_off_on_primary")
def _():
    # MySQLdb's default: autocommit off, i.e. every statement is inside a transaction.
    with conn_of(autocommit=False) as c:
        sid = int(one(c, "SELECT @@server_id")[0])
        c.commit()
        return primary(sid)


@check("autocommit_read_on_replica")
def _():
    with conn_of() as c:
        return replica(int(one(c, "SELECT @@server_id")[0]))


@check("transaction_on_primary")
def _():
    with conn_of() as c:
        c.begin() if hasattr(c, "begin") else one(c, "BEGIN")
        sid = int(one(c, "SELECT @@server_id")[0])
        c.commit()
        return primary(sid)


@check("types_roundtrip")
def _():
    with conn_of() as c:
        cur = c.cursor()
        cur.execute(
            f"INSERT INTO {P}_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (1, ROW["i"], ROW["b"], ROW["d"], ROW["f"], ROW["s"], ROW["dt"], ROW["ts"], ROW["bl"], ROW["nn"]),
        )
        cur.execute(f"/*master*/ SELECT i, b, d, f, s, dt, ts, bl, nn FROM {P}_types WHERE id = %s", (1,))
        rows = cur.fetchall()
        expect(len(rows) == 1, f"read back {len(rows)} rows")
        got = dict(zip(["i", "b", "d", "f", "s", "dt", "ts", "bl", "nn"], rows[0]))
        bad = {}
        for k, w in ROW.items():
            if canon(k, w) != canon(k, got[k]):
                bad[k] = {"want": canon(k, w), "got": canon(k, got[k]), "gotType": type(got[k]).__name__}
        return {"ok": not bad, "detail": bad or "all 9 values equal"}


@check(f"select_{SPREAD_N}x_spread_over_replicas")
def _():
    with conn_of() as c:
        counts = {}
        cur = c.cursor()
        for k in range(SPREAD_N):
            cur.execute("SELECT @@server_id, %s", (k,))
            sid, echo = cur.fetchone()
            expect(int(echo) == k, f"execution {k}: parameter came back as {echo!r}")
            counts[int(sid)] = counts.get(int(sid), 0) + 1
        return spread(counts, SPREAD_N)


@check("blob_5mb")
def _():
    import hashlib

    blob = os.urandom(5 * 1024 * 1024)
    with conn_of() as c:
        cur = c.cursor()
        cur.execute(f"INSERT INTO {P}_big (id, data) VALUES (%s, %s)", (1, blob))
        cur.execute(f"/*master*/ SELECT data FROM {P}_big WHERE id = %s", (1,))
        got = bytes(cur.fetchone()[0])
        expect(got == blob, f"read back {len(got)} bytes sha1 {hashlib.sha1(got).hexdigest()}, sent sha1 {hashlib.sha1(blob).hexdigest()}")
        return {"bytes": len(got), "sha1": hashlib.sha1(got).hexdigest()}


@check("multi_statement")
def _():
    from MySQLdb.constants import CLIENT

    with conn_of(client_flag=CLIENT.MULTI_STATEMENTS) as c:
        cur = c.cursor()
        cur.execute("SELECT 1 AS a; SELECT 2 AS b")
        sets = [list(cur.fetchall())]
        while cur.nextset():
            sets.append(list(cur.fetchall()))
        expect(len(sets) == 2 and sets[0][0][0] == 1 and sets[1][0][0] == 2, f"got {sets!r}")
        return sets


@check("call_two_result_sets")
def _():
    with conn_of() as c:
        cur = c.cursor()
        cur.execute(f"CALL {P}_two(%s)", (7,))
        sets = [list(cur.fetchall())]
        while cur.nextset():
            sets.append(list(cur.fetchall()))
        while sets and sets[-1] == []:  # the CALL's closing OK
            sets.pop()
        expect(len(sets) == 2 and sets[0][0][0] == 7 and sets[1][0][0] == "two-7", f"got {sets!r}")
        return sets


@check("duplicate_key_1062")
def _():
    with conn_of() as c:
        cur = c.cursor()
        try:
            cur.execute(f"INSERT INTO {P}_types (id, i) VALUES (%s, %s)", (1000, 1))
        except MySQLdb.IntegrityError as e:
            return {"ok": e.args[0] == 1062, "detail": error_detail(e)}
        return {"ok": False, "detail": "the duplicate insert succeeded"}


@check(f"executemany_{BATCH_N}_rows")
def _():
    with conn_of() as c:
        cur = c.cursor()
        rows = [(k, f"row-{k} \U0001F42C", k * 1000000007) for k in range(1, BATCH_N + 1)]
        n = cur.executemany(f"INSERT INTO {P}_batch (id, v, n) VALUES (%s, %s, %s)", rows)
        expect(n == BATCH_N, f"executemany reported {n} rows")
        cnt, total, good = one(
            c, f"/*master*/ SELECT COUNT(*), SUM(n), SUM(v = CONCAT('row-', id, ' \U0001F42C')) FROM {P}_batch"
        )
        want = BATCH_N * (BATCH_N + 1) // 2 * 1000000007
        expect(cnt == BATCH_N and int(total) == want and int(good) == BATCH_N, f"table holds {cnt}, {total}, {good}")
        return {"rowcount": n, "count": cnt, "sum": str(total)}


sys.exit(0 if failed == 0 else 1)
