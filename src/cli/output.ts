// Output for humans (aligned columns, like kubectl) or scripts (--json).

export interface Out {
  readonly json: boolean;
  line(s: string): void;
  /** Prints rows as a table, or the raw value as JSON. */
  table(value: unknown, rows: readonly Record<string, unknown>[], columns: readonly string[]): void;
  /** Prints an object as key: value lines, or as JSON. */
  record(value: unknown, fields?: readonly string[]): void;
}

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
};

export function formatTable(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const header = columns.map((c) => c.toUpperCase());
  const body = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [fmt(header), ...body.map(fmt)].join('\n');
}

export function makeOut(json: boolean, write: (s: string) => void = (s) => process.stdout.write(s)): Out {
  return {
    json,
    line: (s) => write(`${s}\n`),
    table(value, rows, columns) {
      if (json) write(`${JSON.stringify(value, null, 2)}\n`);
      else if (rows.length === 0) write('(none)\n');
      else write(`${formatTable(rows, columns)}\n`);
    },
    record(value, fields) {
      if (json) {
        write(`${JSON.stringify(value, null, 2)}\n`);
        return;
      }
      const obj = value as Record<string, unknown>;
      const keys = fields ?? Object.keys(obj);
      const w = Math.max(...keys.map((k) => k.length));
      for (const k of keys) write(`${`${k}:`.padEnd(w + 2)}${cell(obj[k])}\n`);
    },
  };
}
