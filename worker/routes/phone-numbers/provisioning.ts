// A number's routing at its carrier follows its row (DESIGN.md, "Provisioning is explicit"): a
// `twilio` number is registered with Twilio while active and unregistered while not, inside the
// transaction that writes the row and before its audit event — so a carrier that refuses or
// cannot be reached rolls the whole change back (502 provider_error, nothing changed, nothing
// audited). `generic` numbers are provisioned by hand on the trunk, as before: no carrier call.
import type { Context } from 'hono';
import type { phoneNumbers } from '../../db/schema.ts';
import { twilioSettings } from '../../lib/config.ts';
import type { AppEnv } from '../../lib/env.ts';
import { ApiError } from '../../lib/problem.ts';
import { ProviderError, type TelephonyAdapter } from '../../telephony/adapter.ts';
import { TwilioTelephonyAdapter } from '../../telephony/twilio.ts';

type PhoneNumberRow = typeof phoneNumbers.$inferSelect;

/**
 * The adapter that provisions numbers of this provider type, or undefined when there is nothing
 * to provision (generic). A carrier that is not configured is a 400 naming what is missing,
 * before anything is written.
 */
export function provisioningAdapter(c: Context<AppEnv>, providerType: PhoneNumberRow['providerType']): TelephonyAdapter | undefined {
  if (providerType !== 'twilio') return undefined;
  const twilio = twilioSettings(c.var.settings);
  if (!twilio.ok) {
    const detail = `Twilio is not configured on this service: ${twilio.missing.join(', ')} ${twilio.missing.length === 1 ? 'is' : 'are'} not set.`;
    throw new ApiError(400, 'twilio_not_configured', 'Invalid request', detail, {
      errors: [{ path: 'provider_type', message: `twilio needs ${twilio.missing.join(', ')}` }],
    });
  }
  return new TwilioTelephonyAdapter(twilio.twilio);
}

/** Registers the number while it is active, unregisters it while not; a carrier failure is 502 provider_error. */
export async function provisionNumber(c: Context<AppEnv>, adapter: TelephonyAdapter, row: PhoneNumberRow): Promise<void> {
  const operation = row.isActive ? 'registerNumber' : 'unregisterNumber';
  try {
    const registration = await adapter[operation](row.tenantId, row.id, row.didNumber);
    c.var.log.info(`[PROVISIONING] ${registration.provider} ${operation}`, {
      phone_number_id: row.id,
      tenant_id: row.tenantId,
      did_number: row.didNumber,
      carrier_id: String(registration.details.incoming_phone_number_sid ?? ''),
    });
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    c.var.log.warn(`[PROVISIONING] ${error.provider} ${operation} failed`, {
      phone_number_id: row.id,
      tenant_id: row.tenantId,
      did_number: row.didNumber,
      reason: error.reason,
    });
    throw new ApiError(502, 'provider_error', 'Bad gateway', `${error.message} Nothing was changed.`);
  }
}
