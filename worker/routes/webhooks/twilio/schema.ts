// The parts of Twilio's webhook forms VCA reads. Twilio sends many more parameters and adds new
// ones without notice, so the forms are loose: unknown parameters are signed over and ignored.
import { z } from '@hono/zod-openapi';
import { problems } from '../../../lib/problem.ts';

/** The problems a Twilio route answers: no credential but the signature, so no 403. */
export function twilioProblems(...statuses: number[]) {
  const out = problems(...statuses);
  delete out[403];
  return out;
}

const callSid = z
  .string()
  .regex(/^CA[0-9a-fA-F]{32}$/, 'must be a Twilio CallSid')
  .openapi({ description: 'Twilio’s id of the call: the call’s `external_call_id`.', example: 'CA0123456789abcdef0123456789abcdef' });

const accountSid = z.string().openapi({ description: 'Must be TWILIO_ACCOUNT_SID.', example: 'AC0123456789abcdef0123456789abcdef' });

const calledNumber = z.string().min(1).max(64).openapi({ description: 'The dialled number (E.164).', example: '+14155550100' });

export const TwilioVoiceForm = z
  .looseObject({
    CallSid: callSid,
    AccountSid: accountSid,
    To: calledNumber,
    From: z
      .string()
      .max(1024)
      .optional()
      .openapi({ description: 'The caller, as Twilio presents it; stored (up to 64 characters), never used for routing.' }),
    CallStatus: z.string().max(32).optional(),
    Direction: z.string().max(32).optional(),
  })
  .openapi('TwilioVoiceWebhook');

/** Twilio's call statuses (CallStatus), and what each means for the call. */
export const TWILIO_CALL_STATUSES = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'failed',
  'no-answer',
  'canceled',
] as const;

export const TwilioStatusForm = z
  .looseObject({
    CallSid: callSid,
    AccountSid: accountSid,
    To: calledNumber,
    CallStatus: z
      .string()
      .max(32)
      .openapi({ description: `One of ${TWILIO_CALL_STATUSES.join(', ')}.`, example: 'completed' }),
    CallDuration: z
      .string()
      .regex(/^\d{1,7}$/, 'must be whole seconds')
      .optional()
      .openapi({ description: 'Seconds the call was connected, on `completed`.', example: '42' }),
    Timestamp: z.string().max(64).optional().openapi({ description: 'When the event happened (RFC 2822).' }),
  })
  .openapi('TwilioStatusCallback');

export const TwilioStatusAnswer = z
  .discriminatedUnion('status', [
    z.object({
      status: z.literal('success'),
      call_record_id: z.uuid(),
      call_status: z.enum(['initiated', 'ringing', 'answered', 'ended', 'failed']),
    }),
    z.object({ status: z.literal('error'), code: z.literal('unknown_call'), message: z.string() }),
    z.object({ status: z.literal('ignored'), message: z.string() }),
  ])
  .openapi('TwilioStatusAnswer');
