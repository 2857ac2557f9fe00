// MariaDB Connector/J (Debian's libmariadb-java, /usr/share/java/mariadb-java-client.jar) with
// useServerPrepStmts=true: every PreparedStatement is a server-side prepared statement. The
// 5 MiB blob goes through setBinaryStream (COM_STMT_SEND_LONG_DATA), executeBatch() through the
// driver's batch path (MariaDB's COM_STMT_BULK_EXECUTE when the server announces it, otherwise
// pipelined executes), the multi-statement check through a connection with allowMultiQueries.
//
// Compiled at test time (javac -d TMP -cp JAR ConnectorJ.java), then
//   java -cp TMP:JAR ConnectorJ HOST PORT USER PASSWORD DATABASE [--direct]
//
// Output contract: see common.mjs (one JSON line per check).

import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public class ConnectorJ {
    static final String P = "cc_java";
    static final int SPREAD_N = 200;
    static final int BATCH_N = 1000;
    static final List<Integer> REPLICA_IDS = List.of(2, 3);
    static final int PRIMARY_ID = 1;

    static String host, user, password, database;
    static int port;
    static boolean direct;
    static int failed = 0;

    // The row every client writes and reads back.
    static final int I = -2147483648;
    static final long B = 9007199254740993L;
    static final BigDecimal D = new BigDecimal("12345678901234.123456");
    static final double F = 3.141592653589793;
    static final String S = "h\u00e9llo w\u00f6rld \uD83D\uDC2C \u2713";
    static final LocalDate DT = LocalDate.of(2024, 2, 29);
    static final LocalDateTime TS = LocalDateTime.of(2024, 2, 29, 23, 59, 58, 123456000);
    static final byte[] BL = new byte[256];
    static {
        for (int k = 0; k < 256; k++) BL[k] = (byte) k;
    }

    static final class Res {
        final boolean ok;
        final Object detail;
        final String skip;
        Res(boolean ok, Object detail, String skip) { this.ok = ok; this.detail = detail; this.skip = skip; }
        Res(boolean ok, Object detail) { this(ok, detail, null); }
    }

    interface Body { Object run() throws Exception; }

    public static void main(String[] argv) {
        List<String> pos = new ArrayList<>();
        for (String a : argv) { if (a.equals("--direct")) direct = true; else pos.add(a); }
        host = pos.size() > 0 ? pos.get(0) : env("SLUICE_HOST", "127.0.0.1");
        port = Integer.parseInt(pos.size() > 1 ? pos.get(1) : env("SLUICE_PORT", "8066"));
        user = pos.size() > 2 ? pos.get(2) : env("SLUICE_USER", "app");
        password = pos.size() > 3 ? pos.get(3) : env("SLUICE_PASSWORD", "app");
        database = pos.size() > 4 ? pos.get(4) : env("SLUICE_DATABASE", "sluice_test");

        check("connect", () -> {
            try (Connection c = conn("")) {
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("serverVersion", c.getMetaData().getDatabaseProductVersion());
                d.put("driver", c.getMetaData().getDriverName() + " " + c.getMetaData().getDriverVersion());
                d.put("java", System.getProperty("java.version"));
                return d;
            }
        });

        check("setup", () -> {
            try (Connection c = conn(""); Statement st = c.createStatement()) {
                for (String sql : new String[] {
                    "DROP TABLE IF EXISTS " + P + "_types",
                    "CREATE TABLE " + P + "_types (id INT PRIMARY KEY, i INT, b BIGINT, d DECIMAL(20,6), f DOUBLE, "
                        + "s VARCHAR(64), dt DATE, ts DATETIME(6), bl BLOB, nn INT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                    "DROP TABLE IF EXISTS " + P + "_big",
                    "CREATE TABLE " + P + "_big (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB",
                    "DROP TABLE IF EXISTS " + P + "_batch",
                    "CREATE TABLE " + P + "_batch (id INT PRIMARY KEY, v VARCHAR(32), n BIGINT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                    "DROP PROCEDURE IF EXISTS " + P + "_two",
                    "CREATE PROCEDURE " + P + "_two(IN x INT) BEGIN SELECT x AS a; SELECT CONCAT('two-', x) AS b; END",
                    "INSERT INTO " + P + "_types (id, i) VALUES (1000, 0)",
                }) st.execute(sql);
                return "tables and procedure created";
            }
        });

        check("statement_autocommit_read_on_replica", () -> {
            try (Connection c = conn(""); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@server_id")) {
                rs.next();
                return replica(rs.getInt(1));
            }
        });

        check("statement_transaction_on_primary", () -> {
            try (Connection c = conn(""); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                int id;
                try (ResultSet rs = st.executeQuery("SELECT @@server_id")) { rs.next(); id = rs.getInt(1); }
                c.commit();
                c.setAutoCommit(true);
                return primary(id);
            }
        });

        check("prepared_autocommit_read_on_replica", () -> {
            try (Connection c = conn(""); PreparedStatement ps = c.prepareStatement("SELECT @@server_id AS sid");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                return replica(rs.getInt(1));
            }
        });

        check("prepared_transaction_on_primary", () -> {
            try (Connection c = conn("")) {
                c.setAutoCommit(false);
                int id;
                try (PreparedStatement ps = c.prepareStatement("SELECT @@server_id AS sid, ? AS x")) {
                    ps.setInt(1, 1);
                    try (ResultSet rs = ps.executeQuery()) { rs.next(); id = rs.getInt(1); }
                }
                c.commit();
                c.setAutoCommit(true);
                return primary(id);
            }
        });

        check("prepared_types_roundtrip", () -> {
            try (Connection c = conn("")) {
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO " + P + "_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                    ps.setInt(1, 1);
                    ps.setInt(2, I);
                    ps.setLong(3, B);
                    ps.setBigDecimal(4, D);
                    ps.setDouble(5, F);
                    ps.setString(6, S);
                    ps.setObject(7, DT);
                    ps.setObject(8, TS);
                    ps.setBytes(9, BL);
                    ps.setNull(10, Types.INTEGER);
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "/*master*/ SELECT i, b, d, f, s, dt, ts, bl, nn FROM " + P + "_types WHERE id = ?")) {
                    ps.setInt(1, 1);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) throw new IllegalStateException("row not read back");
                        Map<String, Object> bad = new TreeMap<>();
                        cmp(bad, "i", String.valueOf(I), String.valueOf(rs.getInt("i")));
                        cmp(bad, "b", String.valueOf(B), String.valueOf(rs.getLong("b")));
                        cmp(bad, "d", D.toPlainString(), rs.getBigDecimal("d").toPlainString());
                        cmp(bad, "f", Double.toString(F), Double.toString(rs.getDouble("f")));
                        cmp(bad, "s", S, rs.getString("s"));
                        cmp(bad, "dt", DT.toString(), String.valueOf(rs.getObject("dt", LocalDate.class)));
                        DateTimeFormatter fmt = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS");
                        LocalDateTime ts = rs.getObject("ts", LocalDateTime.class);
                        cmp(bad, "ts", TS.format(fmt), ts == null ? null : ts.format(fmt));
                        cmp(bad, "bl", hex(BL), hex(rs.getBytes("bl")));
                        Object nn = rs.getObject("nn");
                        cmp(bad, "nn", null, nn == null ? null : nn.toString());
                        if (rs.next()) throw new IllegalStateException("more than one row read back");
                        return new Res(bad.isEmpty(), bad.isEmpty() ? "all 9 values equal" : bad);
                    }
                }
            }
        });

        check("prepared_" + SPREAD_N + "x_spread_over_replicas", () -> {
            try (Connection c = conn(""); PreparedStatement ps = c.prepareStatement("SELECT @@server_id AS sid, ? AS echo")) {
                Map<String, Integer> counts = new TreeMap<>();
                for (int k = 0; k < SPREAD_N; k++) {
                    ps.setInt(1, k);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        int echo = rs.getInt(2);
                        if (echo != k) throw new IllegalStateException("execution " + k + ": parameter came back as " + echo);
                        counts.merge(String.valueOf(rs.getInt(1)), 1, Integer::sum);
                    }
                }
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("executions", SPREAD_N);
                d.put("byServerId", counts);
                if (direct) return new Res(true, d, "direct to the primary: routing not asserted");
                return new Res(counts.keySet().equals(new java.util.TreeSet<>(List.of("2", "3"))), d);
            }
        });

        check("prepared_blob_5mb_binary_stream", () -> {
            byte[] blob = new byte[5 * 1024 * 1024];
            new SecureRandom().nextBytes(blob);
            try (Connection c = conn("")) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + P + "_big (id, data) VALUES (?, ?)")) {
                    ps.setInt(1, 1);
                    ps.setBinaryStream(2, new ByteArrayInputStream(blob), blob.length);
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement("/*master*/ SELECT data FROM " + P + "_big WHERE id = ?")) {
                    ps.setInt(1, 1);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        byte[] got = rs.getBytes(1);
                        if (!Arrays.equals(got, blob))
                            throw new IllegalStateException("read back " + (got == null ? 0 : got.length) + " bytes sha1 " + sha1(got) + ", sent sha1 " + sha1(blob));
                        Map<String, Object> d = new LinkedHashMap<>();
                        d.put("bytes", got.length);
                        d.put("sha1", sha1(got));
                        return d;
                    }
                }
            }
        });

        check("multi_statement", () -> {
            try (Connection c = conn("&allowMultiQueries=true"); Statement st = c.createStatement()) {
                List<Object> sets = new ArrayList<>();
                boolean isRs = st.execute("SELECT 1 AS a; SELECT 2 AS b");
                while (true) {
                    if (isRs) {
                        try (ResultSet rs = st.getResultSet()) { sets.add(rows(rs)); }
                    } else if (st.getUpdateCount() == -1) break;
                    isRs = st.getMoreResults();
                }
                boolean ok = sets.toString().equals("[[[1]], [[2]]]");
                return new Res(ok, ok ? sets : "got " + sets);
            }
        });

        check("prepared_call_two_result_sets", () -> {
            try (Connection c = conn(""); CallableStatement cs = c.prepareCall("{call " + P + "_two(?)}")) {
                cs.setInt(1, 7);
                List<Object> sets = new ArrayList<>();
                boolean isRs = cs.execute();
                while (true) {
                    if (isRs) {
                        try (ResultSet rs = cs.getResultSet()) { sets.add(rows(rs)); }
                    } else if (cs.getUpdateCount() == -1) break;
                    isRs = cs.getMoreResults();
                }
                boolean ok = sets.toString().equals("[[[7]], [[two-7]]]");
                return new Res(ok, ok ? sets : "got " + sets);
            }
        });

        check("prepared_duplicate_key_1062", () -> {
            try (Connection c = conn(""); PreparedStatement ps = c.prepareStatement("INSERT INTO " + P + "_types (id, i) VALUES (?, ?)")) {
                ps.setInt(1, 1000);
                ps.setInt(2, 1);
                try {
                    ps.executeUpdate();
                } catch (SQLException e) {
                    return new Res(e.getErrorCode() == 1062, err(e));
                }
                return new Res(false, "the duplicate insert succeeded");
            }
        });

        check("prepared_execute_batch_" + BATCH_N + "_rows", () -> {
            try (Connection c = conn("")) {
                int[] counts;
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + P + "_batch (id, v, n) VALUES (?, ?, ?)")) {
                    for (int k = 1; k <= BATCH_N; k++) {
                        ps.setInt(1, k);
                        ps.setString(2, "row-" + k + " \uD83D\uDC2C");
                        ps.setLong(3, k * 1_000_000_007L);
                        ps.addBatch();
                    }
                    counts = ps.executeBatch();
                }
                if (counts.length != BATCH_N) throw new IllegalStateException("executeBatch returned " + counts.length + " counts");
                try (PreparedStatement ps = c.prepareStatement(
                        "/*master*/ SELECT COUNT(*), SUM(n), SUM(v = CONCAT('row-', id, ' \uD83D\uDC2C')) FROM " + P + "_batch");
                     ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long want = (long) BATCH_N * (BATCH_N + 1) / 2 * 1_000_000_007L;
                    boolean ok = rs.getLong(1) == BATCH_N && rs.getBigDecimal(2).longValueExact() == want && rs.getLong(3) == BATCH_N;
                    Map<String, Object> d = new LinkedHashMap<>();
                    d.put("updateCounts", counts.length);
                    d.put("count", rs.getLong(1));
                    d.put("sum", rs.getBigDecimal(2).toPlainString());
                    d.put("good", rs.getLong(3));
                    return new Res(ok, d);
                }
            }
        });

        check("connection_still_usable_after_error", () -> {
            try (Connection c = conn("")) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + P + "_types (id, i) VALUES (?, ?)")) {
                    ps.setInt(1, 1000);
                    ps.setInt(2, 1);
                    ps.executeUpdate();
                } catch (SQLException expected) {
                    // 1062
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT ? + 1 AS v")) {
                    ps.setInt(1, 41);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        int v = rs.getInt(1);
                        return new Res(v == 42, v == 42 ? "SELECT ? + 1 after the 1062 returned 42" : "got " + v);
                    }
                }
            }
        });

        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }

    static String env(String k, String dflt) { String v = System.getenv(k); return v == null || v.isEmpty() ? dflt : v; }

    static Connection conn(String extra) throws SQLException {
        String url = "jdbc:mariadb://" + host + ":" + port + "/" + database
            + "?useServerPrepStmts=true&connectTimeout=10000&socketTimeout=30000" + extra;
        return DriverManager.getConnection(url, user, password);
    }

    static void check(String name, Body body) {
        long t = System.nanoTime();
        Res res;
        try {
            Object r = body.run();
            res = r instanceof Res ? (Res) r : new Res(true, r);
        } catch (SQLException e) {
            res = new Res(false, err(e));
        } catch (Throwable e) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("error", String.valueOf(e.getMessage()));
            d.put("class", e.getClass().getName());
            res = new Res(false, d);
        }
        if (!res.ok) failed++;
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("check", name);
        line.put("ok", res.ok);
        line.put("detail", res.detail);
        line.put("ms", (System.nanoTime() - t) / 1_000_000);
        if (res.skip != null) line.put("skip", res.skip);
        System.out.println(json(line));
        System.out.flush();
    }

    static Map<String, Object> err(SQLException e) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("error", e.getMessage());
        d.put("errno", e.getErrorCode());
        d.put("sqlState", e.getSQLState());
        d.put("class", e.getClass().getName());
        return d;
    }

    static Res replica(int id) {
        Map<String, Object> d = Map.of("serverId", id);
        if (direct) return new Res(true, d, "direct to the primary: routing not asserted");
        return new Res(REPLICA_IDS.contains(id), d);
    }

    static Res primary(int id) { return new Res(id == PRIMARY_ID, Map.of("serverId", id)); }

    static void cmp(Map<String, Object> bad, String k, String want, String got) {
        if (want == null ? got != null : !want.equals(got)) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("want", want);
            d.put("got", got);
            bad.put(k, d);
        }
    }

    static List<List<Object>> rows(ResultSet rs) throws SQLException {
        List<List<Object>> out = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            List<Object> row = new ArrayList<>();
            for (int k = 1; k <= n; k++) row.add(rs.getObject(k));
            out.add(row);
        }
        return out;
    }

    static String hex(byte[] b) {
        if (b == null) return null;
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    static String sha1(byte[] b) throws Exception {
        return b == null ? null : hex(MessageDigest.getInstance("SHA-1").digest(b));
    }

    static String json(Object o) {
        if (o == null) return "null";
        if (o instanceof Boolean || o instanceof Integer || o instanceof Long) return o.toString();
        if (o instanceof Number) return o.toString();
        if (o instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                if (!first) sb.append(',');
                first = false;
                sb.append(json(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (o instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            boolean first = true;
            for (Object x : (List<?>) o) {
                if (!first) sb.append(',');
                first = false;
                sb.append(json(x));
            }
            return sb.append(']').toString();
        }
        String s = o.toString();
        StringBuilder sb = new StringBuilder("\"");
        for (int k = 0; k < s.length(); k++) {
            char ch = s.charAt(k);
            switch (ch) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
                    else sb.append(ch);
            }
        }
        return sb.append('"').toString();
    }
}
