/**
 * Client-facing SQL errors: the coded errors (errno + SQLSTATE + message) that the proxy itself
 * sends to clients in ERR packets.
 *
 * Errnos, SQLSTATEs and message templates follow the server's error tables so that client
 * libraries and applications recognise them; messages that name the server product are worded
 * neutrally ("this server"). `CR_*` codes are client-library errors that the proxy reuses where a
 * client would have seen them talking to MySQL directly (backend unreachable).
 * https://mariadb.com/kb/en/mariadb-error-code-reference/
 * https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html
 */

export interface ErrorSpec {
  readonly errno: number;
  readonly sqlState: string;
  /** Message with `%s` / `%d` placeholders filled in order by `sqlError`. */
  readonly template: string;
}

function spec(errno: number, sqlState: string, template: string): ErrorSpec {
  return { errno, sqlState, template };
}

export const ER = {
  ER_CON_COUNT_ERROR: spec(1040, '08004', 'Too many connections'),
  ER_HANDSHAKE_ERROR: spec(1043, '08S01', 'Bad handshake'),
  ER_DBACCESS_DENIED_ERROR: spec(1044, '42000', "Access denied for user '%s'@'%s' to database '%s'"),
  ER_ACCESS_DENIED_ERROR: spec(1045, '28000', "Access denied for user '%s'@'%s' (using password: %s)"),
  ER_NO_DB_ERROR: spec(1046, '3D000', 'No database selected'),
  ER_UNKNOWN_COM_ERROR: spec(1047, '08S01', 'Unknown command'),
  ER_BAD_DB_ERROR: spec(1049, '42000', "Unknown database '%s'"),
  ER_SERVER_SHUTDOWN: spec(1053, '08S01', 'Server shutdown in progress'),
  ER_PARSE_ERROR: spec(1064, '42000', "%s near '%s' at line %d"),
  ER_NO_SUCH_THREAD: spec(1094, 'HY000', 'Unknown thread id: %s'),
  ER_KILL_DENIED_ERROR: spec(1095, 'HY000', 'You are not owner of thread %s'),
  ER_UNKNOWN_ERROR: spec(1105, 'HY000', 'Unknown error'),
  // MariaDB's wording (MySQL says 'mysqladmin flush-hosts'); here FLUSH HOSTS on the admin port.
  ER_HOST_IS_BLOCKED: spec(1129, 'HY000', "Host '%s' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'"),
  ER_HOST_NOT_PRIVILEGED: spec(1130, 'HY000', "Host '%s' is not allowed to connect to this server"),
  ER_USER_LIMIT_REACHED: spec(1226, '42000', "User '%s' has exceeded the '%s' resource (current value: %s)"),
  ER_NO_SUCH_TABLE: spec(1146, '42S02', "Table '%s.%s' doesn't exist"),
  ER_SYNTAX_ERROR: spec(
    1149,
    '42000',
    'You have an error in your SQL syntax; check the manual that corresponds to your server version for the right syntax to use',
  ),
  ER_NET_PACKET_TOO_LARGE: spec(1153, '08S01', "Got a packet bigger than 'max_allowed_packet' bytes"),
  ER_NET_READ_ERROR: spec(1158, '08S01', 'Got an error reading communication packets'),
  ER_NET_READ_INTERRUPTED: spec(1159, '08S01', 'Got timeout reading communication packets'),
  ER_NET_ERROR_ON_WRITE: spec(1160, '08S01', 'Got an error writing communication packets'),
  ER_CANT_DO_THIS_DURING_AN_TRANSACTION: spec(
    1179,
    '25000',
    'You are not allowed to execute this command in a transaction',
  ),
  ER_UNKNOWN_SYSTEM_VARIABLE: spec(1193, 'HY000', "Unknown system variable '%s'"),
  ER_TOO_MANY_USER_CONNECTIONS: spec(
    1203,
    '42000',
    "User %s already has more than 'max_user_connections' active connections",
  ),
  ER_LOCK_WAIT_TIMEOUT: spec(1205, 'HY000', 'Lock wait timeout exceeded; try restarting transaction'),
  ER_WRONG_ARGUMENTS: spec(1210, 'HY000', 'Incorrect arguments to %s'),
  ER_SPECIFIC_ACCESS_DENIED_ERROR: spec(
    1227,
    '42000',
    'Access denied; you need (at least one of) the %s privilege(s) for this operation',
  ),
  ER_NOT_SUPPORTED_YET: spec(1235, '42000', "This version of the server doesn't yet support '%s'"),
  ER_UNKNOWN_STMT_HANDLER: spec(1243, 'HY000', 'Unknown prepared statement handler (%s) given to %s'),
  ER_OPTION_PREVENTS_STATEMENT: spec(
    1290,
    'HY000',
    'The server is running with the %s option so it cannot execute this statement',
  ),
  ER_QUERY_INTERRUPTED: spec(1317, '70100', 'Query execution was interrupted'),
  ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: spec(
    1792,
    '25006',
    'Cannot execute statement in a READ ONLY transaction',
  ),
  ER_MALFORMED_PACKET: spec(1835, 'HY000', 'Malformed communication packet'),
  ER_CONNECTION_KILLED: spec(1927, '70100', 'Connection was killed'),
  ER_SECURE_TRANSPORT_REQUIRED: spec(
    3159,
    '08004',
    'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
  ),
  CR_CONN_HOST_ERROR: spec(2003, 'HY000', "Can't connect to MySQL server on '%s' (%s)"),
  /** What a client library reports when the connection drops mid-query. */
  CR_SERVER_LOST: spec(2013, 'HY000', "Lost connection to MySQL server '%s' during query"),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ER;

/**
 * A coded error meant for a client: encode it with `encodeErr` (it has the fields that takes).
 * Anything that is not a `SqlError` must be logged and replaced by a generic error instead.
 */
export class SqlError extends Error {
  override readonly name = 'SqlError';
  readonly errno: number;
  readonly sqlState: string;
  /** The `ER` key this error was built from, when it came from the table. */
  readonly code: string | undefined;

  /** Message first, as for every Error; `errno` and `sqlState` go on the wire with it. */
  constructor(message: string, errno: number, sqlState: string, code?: string) {
    super(message);
    this.errno = errno;
    this.sqlState = sqlState;
    this.code = code;
  }
}

/**
 * Builds the `SqlError` for `code`, filling `%s`/`%d` placeholders from `args` in order
 * (missing arguments become empty strings, extra ones are ignored).
 */
export function sqlError(code: ErrorName, ...args: (string | number)[]): SqlError {
  const e = ER[code];
  let i = 0;
  const message = e.template.replace(/%[sd]/g, () => {
    const arg = args[i++];
    return arg === undefined ? '' : String(arg);
  });
  return new SqlError(message, e.errno, e.sqlState, code);
}
