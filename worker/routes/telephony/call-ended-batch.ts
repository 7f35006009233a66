import { createRoute } from '@hono/zod-openapi';
import { CALL_ENDED_BATCH_MAX, CallEndedBatchAnswer, CallEndedBatchPayload } from '../../../contract/ingest.ts';
import { recordCallsEnded } from '../../db/cross-tenant.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { jsonBody, jsonResponse } from '../openapi.ts';
import { callEnd, endedAnswer, endedLogFields } from './call-ended.ts';
import { dialledDid } from './dialled-number.ts';

const route = createRoute({
  method: 'post',
  path: '/internal/telephony/call-ended/batch',
  tags: ['Telephony ingest'],
  summary: 'Several calls ended: /call-ended for up to 100 events in one request',
  description: `Signed like /inbound. What the bridge sends when it drains its spool (after an outage, say): one request, one database connection and one statement for up to ${CALL_ENDED_BATCH_MAX} events instead of one each. Every event is handled exactly as /call-ended handles it, and \`results\` answers each in the order of \`events\`. Between two events for the same call in one batch, the earlier one is the first end. A request is valid or refused as a whole (400).`,
  security: [{ webhookSignature: [] }],
  request: { body: jsonBody(CallEndedBatchPayload) },
  responses: {
    200: jsonResponse(CallEndedBatchAnswer, 'Each call’s final state, in the order of the events'),
    ...problems(400, 401, 403, 413, 415, 503),
  },
});

export function registerCallEndedBatch(app: App) {
  app.openapi(route, async (c) => {
    const { events } = c.req.valid('json');
    const dids = events.map((event) => dialledDid(c, event.called_number));
    // A number that cannot be a DID (null) matches no call: that event is answered unknown_call.
    const calls = await recordCallsEnded(
      c.var.db(),
      events.map((event, index) => callEnd(event, dids[index] ?? null)),
    );

    const webhookId = c.req.header('webhook-id');
    events.forEach((event, index) => {
      const call = calls[index];
      c.var.log.info(`[CALL ENDED] ${call ? 'recorded' : 'rejected'}`, {
        webhook_id: webhookId,
        batch_position: index + 1,
        ...endedLogFields(event, dids[index] ?? null, call),
      });
    });
    const recorded = calls.filter(Boolean).length;
    c.set('logEntry', {
      msg: '[CALL ENDED] batch',
      fields: { webhook_id: webhookId, events: events.length, recorded, unknown_calls: events.length - recorded },
    });
    return c.json({ results: calls.map(endedAnswer) }, 200);
  });
}
