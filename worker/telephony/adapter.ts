// The telephony adapter layer of the seed design: VCA talks to telephony providers only through
// this interface, so a provider can change without touching the API or the call records.
// Times are Unix epoch seconds throughout, as the carriers and the ingest deliver them.
import type { InboundErrorCode } from '../../contract/ingest.ts';

export type CallDirection = 'inbound' | 'outbound';

export type CallEventType = 'INITIATED' | 'RINGING' | 'ANSWERED' | 'ENDED' | 'FAILED';

/** A call, without vendor details. tenant_id and phone_number_id are known once the DID is resolved. */
export interface CallMetadata {
  tenant_id: string | null;
  phone_number_id: string | null;
  caller_number: string | null;
  /** E.164 when the dialled number is a phone number, else as dialled. */
  called_number: string;
  direction: CallDirection;
  /** When the call arrived, Unix epoch seconds. */
  timestamp: number;
  call_id: string;
}

export interface AiProfileRef {
  id: string;
  name: string;
  role: string;
}

/** A call's state transition; `details` says what each kind of event carries. */
export type CallEvent =
  | {
      event_type: 'INITIATED';
      metadata: CallMetadata & { tenant_id: string; phone_number_id: string };
      /** When the event happened, Unix epoch seconds. */
      timestamp: number;
      details: { call_record_id: string; ai_profile: AiProfileRef | null };
    }
  | { event_type: 'FAILED'; metadata: CallMetadata; timestamp: number; details: { code: InboundErrorCode } }
  | {
      event_type: 'RINGING' | 'ANSWERED' | 'ENDED';
      metadata: CallMetadata & { tenant_id: string; phone_number_id: string };
      timestamp: number;
      details: { call_record_id: string };
    };

/** What the PBX knows when a call arrives: no tenant yet, only the number that was dialled. */
export interface InboundCall {
  caller_number: string | null;
  /** As the carrier sent it. */
  called_number: string;
  /** Its E.164 form, normalised once by the ingest; null when it is not a phone number. */
  did: string | null;
  call_id: string;
  /** Unix epoch seconds. */
  timestamp: number;
}

export interface NumberRegistration {
  tenant_id: string;
  phone_number_id: string;
  did_number: string;
  provider: string;
  details: Record<string, unknown>;
}

export interface TelephonyAdapter {
  /** Make the provider route this tenant's DID to VCA. */
  registerNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration>;
  /** Stop routing this tenant's DID to VCA. */
  unregisterNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration>;
  /** Resolve the call's tenant from the dialled number and record it: INITIATED, or FAILED with a reason. */
  onInboundCall(call: InboundCall): Promise<CallEvent>;
}

/** The provider cannot be driven by API: numbers are provisioned by hand at the PBX and trunk. */
export class ManualProvisioningError extends Error {
  readonly provider: string;
  readonly operation: 'registerNumber' | 'unregisterNumber';

  constructor(provider: string, operation: 'registerNumber' | 'unregisterNumber', didNumber: string) {
    super(
      `${provider}: ${operation} for ${didNumber} is manual — route the DID on the SIP trunk and in asterisk/extensions.conf (context from-tata-trunk); VCA cannot do it by API`,
    );
    this.name = 'ManualProvisioningError';
    this.provider = provider;
    this.operation = operation;
  }
}

/**
 * The carrier's API refused a change (4xx, the number is not in the account) or could not be
 * reached in time. Nothing was changed at the carrier by the failing request; the API answers
 * 502 provider_error and changes nothing either.
 */
export class ProviderError extends Error {
  readonly provider: string;
  readonly operation: 'registerNumber' | 'unregisterNumber';
  readonly reason: 'refused' | 'not_in_account' | 'unreachable';

  constructor(provider: string, operation: 'registerNumber' | 'unregisterNumber', reason: ProviderError['reason'], message: string) {
    super(message);
    this.name = 'ProviderError';
    this.provider = provider;
    this.operation = operation;
    this.reason = reason;
  }
}
