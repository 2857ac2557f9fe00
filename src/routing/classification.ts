/**
 * The Classification record as the classifier builds it: a mutable draft with every field
 * present in one fixed order, frozen or handed out as `Classification`.
 */
import type { Classification, SetAssignment, StatementKind } from './types.js';

export type Draft = { -readonly [K in keyof Classification]: Classification[K] };

const NO_ASSIGNMENTS: readonly SetAssignment[] = Object.freeze([]);
const NO_STATEMENTS: readonly Classification[] = Object.freeze([]);

/**
 * A classification with no flags set, for commands that carry no SQL (COM_FIELD_LIST,
 * COM_STATISTICS, …): the caller picks the kind that routes it.
 */
export function plainClassification(kind: StatementKind): Classification {
  return Object.freeze(draft(kind, ''));
}

export function draft(kind: StatementKind, verb: string): Draft {
  // Always the same property order: one hidden class for every Classification.
  return {
    kind,
    verb,
    digest: '',
    hint: undefined,
    forwardSql: undefined,
    strippedRanges: undefined,
    readOnlyTransaction: false,
    chain: false,
    needsWriter: false,
    needsLastConnection: false,
    readsLastInsertId: false,
    readsUserVariables: false,
    assignsUserVariables: false,
    acquiresNamedLock: false,
    releasesNamedLock: false,
    createsTemporaryTable: false,
    dropsTemporaryTable: false,
    multiStatement: false,
    placeholders: false,
    mentionsConnectionId: false,
    assignments: NO_ASSIGNMENTS,
    schema: undefined,
    source: 'lexer',
    statements: NO_STATEMENTS,
  };
}

