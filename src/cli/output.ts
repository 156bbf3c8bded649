/** How commands print rows: a table, or JSON with --json. */
import { formatJson, formatTable } from './format.js';

export type Column<T> = keyof T | ((row: T) => string);

/** Rows as a table with these columns (a row's key, or a function of the row), or as JSON. */
export function show<T extends object>(rows: readonly T[], json: boolean, columns: Record<string, Column<T>>): string {
  if (json) return formatJson(rows);
  const cells = rows.map((row) =>
    Object.values(columns).map((column) =>
      typeof column === 'function' ? column(row) : String((row as Record<string, unknown>)[column as string] ?? ''),
    ),
  );
  return formatTable(Object.keys(columns), cells);
}
