import { createRoute, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { callStatus } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { ApiError, problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';
import { EARLIEST, fromFilter, isoMicros, microsToIso, toFilter } from './schema.ts';

const DEFAULT_DAYS = 30;
const MAX_DAYS = 366;
const DAY_MICROS = 86_400_000_000;

const CallStatsSchema = z
  .object({
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    total_calls: z.number().int(),
    by_status: z.record(z.enum(callStatus.enumValues), z.number().int()),
    total_duration_seconds: z.number().int(),
    average_duration_seconds: z.number().nullable().openapi({ description: 'Over the calls that have a duration; null if none.' }),
    per_day: z.array(z.object({ date: z.string().openapi({ example: '2026-11-24' }), calls: z.number().int() })).openapi({
      description: 'Every UTC day of the range, oldest first, including days without calls.',
    }),
  })
  .openapi('CallStats');

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/calls/stats',
  tags: ['Calls'],
  summary: 'Call statistics for a period',
  description: `Counts by status, total and average talk time, and calls per UTC day, for calls started in [from, to). Defaults to the last ${DEFAULT_DAYS} days; at most ${MAX_DAYS} days.`,
  security: bearerSecurity,
  request: { params: TenantParams, query: z.object({ from: fromFilter, to: toFilter }) },
  responses: { 200: jsonResponse(CallStatsSchema, 'The statistics'), ...problems(400, 401, 404, 503) },
});

export function registerCallStats(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const query = c.req.valid('query');
    // In microseconds, like Postgres: a bound given to the microsecond is applied to the microsecond.
    const to = query.to ? isoMicros(query.to) : Date.now() * 1000;
    const from = query.from ? isoMicros(query.from) : to - DEFAULT_DAYS * DAY_MICROS;
    if (from >= to) throw rangeError('`from` must be before `to`.');
    if (from < EARLIEST * 1000) throw rangeError('The period must start in the year 0001 or later.');
    if (to - from > MAX_DAYS * DAY_MICROS) throw rangeError(`The period may span at most ${MAX_DAYS} days.`);
    const range = { from: microsToIso(from), to: microsToIso(to) };

    const { totals, days } = await withTenant(c.var.db(), tenant_id, async (tx) => {
      const totals = await tx.execute<{ status: string; calls: number; duration: string | null; with_duration: number }>(sql`
        select status, count(*)::int as calls, sum(duration_seconds)::text as duration, count(duration_seconds)::int as with_duration
        from calls
        where tenant_id = ${tenant_id} and started_at >= ${range.from}::timestamptz and started_at < ${range.to}::timestamptz
        group by status
      `);
      const days = await tx.execute<{ date: string; calls: number }>(sql`
        with days as (
          select generate_series(
            date_trunc('day', ${range.from}::timestamptz at time zone 'UTC'),
            date_trunc('day', (${range.to}::timestamptz - interval '1 microsecond') at time zone 'UTC'),
            interval '1 day'
          )::date as day
        ),
        counts as (
          select (started_at at time zone 'UTC')::date as day, count(*)::int as calls
          from calls
          where tenant_id = ${tenant_id} and started_at >= ${range.from}::timestamptz and started_at < ${range.to}::timestamptz
          group by 1
        )
        select to_char(days.day, 'YYYY-MM-DD') as date, coalesce(counts.calls, 0) as calls
        from days left join counts using (day)
        order by days.day
      `);
      return { totals: totals.rows, days: days.rows };
    });

    const byStatus = Object.fromEntries(callStatus.enumValues.map((status) => [status, 0])) as Record<
      (typeof callStatus.enumValues)[number],
      number
    >;
    let totalCalls = 0;
    let totalDuration = 0;
    let withDuration = 0;
    for (const row of totals) {
      byStatus[row.status as keyof typeof byStatus] = row.calls;
      totalCalls += row.calls;
      totalDuration += Number(row.duration ?? 0);
      withDuration += row.with_duration;
    }
    return c.json(
      {
        ...range,
        total_calls: totalCalls,
        by_status: byStatus,
        total_duration_seconds: totalDuration,
        average_duration_seconds: withDuration ? Math.round((totalDuration / withDuration) * 100) / 100 : null,
        per_day: days,
      },
      200,
    );
  });
}

function rangeError(detail: string) {
  return new ApiError(400, 'invalid_range', 'Invalid request', detail, { errors: [{ path: 'from', message: detail }] });
}
