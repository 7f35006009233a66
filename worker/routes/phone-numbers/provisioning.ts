// A number's routing at its carrier follows its row (DESIGN.md, "Provisioning is explicit"): a
// `twilio` or `telnyx` number is registered with its carrier while active and unregistered while not, inside the
// transaction that writes the row and before its audit event — so a carrier that refuses or
// cannot be reached rolls the whole change back (502 provider_error, nothing changed, nothing
// audited). `generic` numbers are provisioned by hand on the trunk, as before: no carrier call.
import type { Context } from 'hono';
import type { phoneNumbers } from '../../db/schema.ts';
import { telnyxSettings, twilioSettings } from '../../lib/config.ts';
import type { AppEnv } from '../../lib/env.ts';
import { ApiError } from '../../lib/problem.ts';
import { ProviderError, type TelephonyAdapter } from '../../telephony/adapter.ts';
import { TelnyxTelephonyAdapter } from '../../telephony/telnyx.ts';
import { TwilioTelephonyAdapter } from '../../telephony/twilio.ts';

type PhoneNumberRow = typeof phoneNumbers.$inferSelect;

/**
 * The adapter that provisions numbers of this provider type, or undefined when there is nothing
 * to provision (generic). A carrier that is not configured is a 400 naming what is missing,
 * before anything is written.
 */
export function provisioningAdapter(c: Context<AppEnv>, providerType: PhoneNumberRow['providerType']): TelephonyAdapter | undefined {
  if (providerType === 'twilio') {
    const twilio = twilioSettings(c.var.settings);
    if (!twilio.ok) throw notConfigured('twilio', 'Twilio', twilio.missing);
    return new TwilioTelephonyAdapter(twilio.twilio);
  }
  if (providerType === 'telnyx') {
    const telnyx = telnyxSettings(c.var.settings);
    if (!telnyx.ok) throw notConfigured('telnyx', 'Telnyx', telnyx.missing);
    return new TelnyxTelephonyAdapter(telnyx.telnyx);
  }
  return undefined;
}

function notConfigured(providerType: 'twilio' | 'telnyx', carrier: string, missing: string[]): ApiError {
  const detail = `${carrier} is not configured on this service: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set.`;
  return new ApiError(400, `${providerType}_not_configured`, 'Invalid request', detail, {
    errors: [{ path: 'provider_type', message: `${providerType} needs ${missing.join(', ')}` }],
  });
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
      // The carrier's id of the number: Twilio's IncomingPhoneNumber SID, Telnyx's phone number id.
      carrier_id: String(registration.details.incoming_phone_number_sid ?? registration.details.telnyx_phone_number_id ?? ''),
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
