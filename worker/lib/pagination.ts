// Keyset pagination on (created_at, id), newest first, for every list. The cursor is opaque to
// clients: base64url of the last row's exact created_at (microseconds, as Postgres stores it) and id.
import { z } from '@hono/zod-openapi';
import { type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { ApiError } from './problem.ts';

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ description: 'Page size, 1–100.', example: 50 }),
  cursor: z.string().max(200).optional().openapi({ description: 'The `next_cursor` of the previous page.' }),
};

export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      data: z.array(item),
      next_cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` to get the next page; null on the last page.' }),
    })
    .openapi(name);
}

interface Cursor {
  createdAt: string;
  id: string;
}

const cursorSchema = z.object({
  c: z
    .string()
    .regex(/^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?([+-](0\d|1[0-5])(:?[0-5]\d)?|Z)?$/)
    .refine(isRealTimestamp),
  i: z.uuid(),
});

// The regex admits 2026-02-30 or 25:61:61, which Postgres would refuse: a forged cursor is a 400.
function isRealTimestamp(text: string): boolean {
  const [year, month, day, hour, minute, second] = text.split(/[- T:.+Z]/).map(Number) as number[];
  const date = new Date(Date.UTC(year as number, (month as number) - 1, day, hour, minute, second));
  return (
    (year as number) >= 1 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === (month as number) - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second
  );
}

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const json = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'));
    const { c, i } = cursorSchema.parse(JSON.parse(json));
    return { createdAt: c, id: i };
  } catch {
    throw new ApiError(400, 'invalid_cursor', 'Invalid request', 'The cursor is not one this API issued. Start again without a cursor.', {
      errors: [{ path: 'cursor', message: 'not a valid cursor' }],
    });
  }
}

function encodeCursor(row: { createdAt: string; id: string }): string {
  return btoa(JSON.stringify({ c: row.createdAt, i: row.id }))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

/** The WHERE part for "rows after the cursor", in (created_at desc, id desc) order. */
export function afterCursor(createdAt: PgColumn, id: PgColumn, cursor: Cursor | undefined): SQL | undefined {
  return cursor ? sql`(${createdAt}, ${id}) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)` : undefined;
}

/** Fetch `limit + 1` rows, then call this: it trims the extra row and sets next_cursor. */
export function toPage<Row extends { createdAt: string; id: string }, Item>(
  rows: Row[],
  limit: number,
  present: (row: Row) => Item,
): { data: Item[]; next_cursor: string | null } {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows.at(-1);
  return { data: pageRows.map(present), next_cursor: more && last ? encodeCursor(last) : null };
}
