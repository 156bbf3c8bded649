/** Left-aligned columns separated by two spaces, like litestream's own tables. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Machine-readable output: dates as ISO 8601 strings, two-space indent. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
