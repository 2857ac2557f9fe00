/** The shape of an admin port answer: typed columns and rows of cells (admin-server.ts encodes it). */

export type Cell = string | number | null;

export interface AdminColumn {
  readonly name: string;
  /** Sent as BIGINT (clients get numbers), else VARCHAR. */
  readonly numeric?: boolean;
  /** With numeric: sent as DOUBLE (fractional values). */
  readonly real?: boolean;
}

export interface AdminTable {
  readonly columns: readonly AdminColumn[];
  readonly rows: readonly (readonly Cell[])[];
}
