import { createRoute } from '@hono/zod-openapi';
import {
  INBOUND_BATCH_MAX,
  InboundBatchAnswer,
  InboundBatchPayload,
  maskPhoneNumber,
  type RoutedInboundAnswer,
} from '../../../contract/ingest.ts';
import { type RoutedCall, type RoutedCallRecord, recordRoutedCalls } from '../../db/cross-tenant.ts';
import { databaseUnavailable } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { jsonBody, jsonResponse } from '../openapi.ts';
import { dialledDid } from './dialled-number.ts';

const route = createRoute({
  method: 'post',
  path: '/internal/telephony/inbound/batch',
  tags: ['Telephony ingest'],
  summary: 'Inbound calls the bridge routed itself: record up to 100 in one request',
  description: `Signed like /inbound. The bridge answers Asterisk from its copy of the routes (GET /internal/telephony/routes), creates each call's record id itself, and sends the calls here behind the answer, up to ${INBOUND_BATCH_MAX} in one request and one statement. Each call is recorded with the bridge's id under the number and tenant the bridge routed it to, whatever the number's or tenant's state is now (the call was answered; its end follows). Idempotent on (tenant, call id): a replay answers the id the call was first recorded with. \`route_mismatch\`: that number no longer owns the dialled DID; \`unknown_did\`: no number does. \`results\` answers each event in order.`,
  security: [{ webhookSignature: [] }],
  request: { body: jsonBody(InboundBatchPayload) },
  responses: {
    200: jsonResponse(InboundBatchAnswer, 'Each call’s record, in the order of the events'),
    ...problems(400, 401, 403, 413, 415, 503),
  },
});

type Settled = Exclude<RoutedCallRecord, { outcome: 'conflict' }>;

const messages = {
  unknown_did: 'No number owns the dialled DID.',
  route_mismatch: 'The dialled DID is no longer owned by the number and tenant the bridge routed the call to.',
} as const;

export function registerInboundBatch(app: App) {
  app.openapi(route, async (c) => {
    const { events } = c.req.valid('json');
    const calls: RoutedCall[] = events.map((event) => ({
      callRecordId: event.call_record_id,
      tenantId: event.tenant_id,
      phoneNumberId: event.phone_number_id,
      did: dialledDid(c, event.called_number),
      callerNumber: event.caller_number ? event.caller_number : null,
      callId: event.call_id,
      startedAt: event.timestamp,
      aiProfileId: event.ai_profile_id,
    }));
    const records = await recordRoutedCalls(c.var.db(), calls);
    // The same call recorded by a concurrent request at the same instant: not visible to this
    // statement's snapshot, found by asking again (as the synchronous path does).
    const conflicts = records.flatMap((record, index) => (record.outcome === 'conflict' ? [index] : []));
    if (conflicts.length > 0) {
      const again = await recordRoutedCalls(
        c.var.db(),
        conflicts.map((index) => calls[index] as RoutedCall),
      );
      for (const [n, index] of conflicts.entries()) records[index] = again[n] as RoutedCallRecord;
    }
    const settled = records.filter((record): record is Settled => record.outcome !== 'conflict');
    if (settled.length !== records.length) throw databaseUnavailable();

    const webhookId = c.req.header('webhook-id');
    const results = settled.map((record, index): RoutedInboundAnswer => {
      const event = events[index];
      const call = calls[index];
      if (!event || !call) throw new Error('one record per event');
      const answer: RoutedInboundAnswer =
        record.outcome === 'recorded'
          ? { status: 'success', call_record_id: record.callRecordId, replayed: record.replayed }
          : { status: 'error', code: record.outcome, message: messages[record.outcome] };
      c.var.log.info(`[INBOUND CALL] ${answer.status === 'success' ? 'recorded' : 'rejected'}`, {
        webhook_id: webhookId,
        batch_position: index + 1,
        routed_by: 'bridge',
        outcome: answer.status === 'success' ? (answer.replayed ? 'replayed' : 'success') : answer.code,
        call_id: event.call_id,
        called_number: call.did ?? undefined,
        caller_number: maskPhoneNumber(event.caller_number),
        tenant_id: event.tenant_id,
        call_record_id: answer.status === 'success' ? answer.call_record_id : undefined,
        ai_profile_id: event.ai_profile_id ?? undefined,
      });
      return answer;
    });
    const recorded = results.filter((result) => result.status === 'success').length;
    c.set('logEntry', {
      msg: '[INBOUND CALL] batch',
      fields: { webhook_id: webhookId, events: events.length, recorded, rejected: events.length - recorded },
    });
    return c.json({ results }, 200);
  });
}
