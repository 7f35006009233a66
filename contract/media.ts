// The media hand-off between the bridge and the Worker: the bridge opens one WebSocket per
// answered call to /internal/media/asterisk/{call_record_id}, signed with the same Standard Webhooks
// secret as the ingest. An upgrade has no body, so what is signed is the request's path and query,
// which carry the call and the whole route the bridge answered Asterisk with (tenant, phone number,
// AI profile, the PBX's call id): a signature cannot be moved to another call or tenant, and the
// Worker's session can trust the route without the call's row, which the bridge may still be
// delivering (DESIGN.md, "Routing at the PBX": a session must not depend on the row having arrived).
import { z } from 'zod';
import { PbxCallId } from './ingest.ts';

export const ASTERISK_MEDIA_PREFIX = '/internal/media/asterisk/';

/** What the bridge knows of the call when Asterisk hands over its audio: the routing answer it gave. */
export const MediaRoute = z.strictObject({
  call_record_id: z.uuid(),
  tenant_id: z.uuid(),
  phone_number_id: z.uuid(),
  /** The profile the call was routed to; null: none then (the session takes the tenant's default). */
  ai_profile_id: z.uuid().nullable(),
  /** The PBX's id of the call (Asterisk ${UNIQUEID}): the call row's external_call_id. */
  call_id: PbxCallId,
});
export type MediaRoute = z.output<typeof MediaRoute>;

/** The path and query the bridge connects to, and signs. A route without a profile leaves ai_profile_id out. */
export function asteriskMediaTarget(route: MediaRoute): string {
  const query = new URLSearchParams({ tenant_id: route.tenant_id, phone_number_id: route.phone_number_id });
  if (route.ai_profile_id) query.set('ai_profile_id', route.ai_profile_id);
  query.set('call_id', route.call_id);
  return `${ASTERISK_MEDIA_PREFIX}${route.call_record_id}?${query}`;
}

/** What is signed for an upgrade: the request target exactly as sent. */
export function mediaSignedContent(pathAndQuery: string): string {
  return `GET ${pathAndQuery}`;
}
