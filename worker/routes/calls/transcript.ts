import { createRoute } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { calls, callTranscripts } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { bearerSecurity, CallParams, jsonResponse } from '../openapi.ts';
import { TranscriptSchema } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/calls/{call_id}/transcript',
  tags: ['Calls'],
  summary: 'Get a call’s transcript',
  description:
    'What was said in the call’s AI session, and its summary. The call session writes both when it ends; until then (or when no session ran) the transcript is empty.',
  security: bearerSecurity,
  request: { params: CallParams },
  responses: { 200: jsonResponse(TranscriptSchema, 'The transcript'), ...problems(401, 404, 503) },
});

export function registerGetCallTranscript(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, call_id } = c.req.valid('param');
    // Transcripts are tenant data that is never logged: this handler only reads and answers.
    const [row] = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select({ turns: callTranscripts.turns, summary: callTranscripts.summary })
        .from(calls)
        .leftJoin(callTranscripts, and(eq(callTranscripts.tenantId, calls.tenantId), eq(callTranscripts.callId, calls.id)))
        .where(and(eq(calls.tenantId, tenant_id), eq(calls.id, call_id))),
    );
    if (!row) throw notFound('call');
    return c.json({ call_id, turns: row.turns ?? [], summary: row.summary }, 200);
  });
}
