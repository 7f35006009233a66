// The media hand-off between the bridge and the Worker: the bridge opens one WebSocket per
// answered call to /internal/media/asterisk/{call_record_id}, signed with the same Standard Webhooks
// secret as the ingest. An upgrade has no body, so what is signed is the request's path and query
// (which carry the call and its route): a signature cannot be moved to another call or tenant.
import { z } from 'zod';

export const ASTERISK_MEDIA_PREFIX = '/internal/media/asterisk/';

/** What the bridge knows of the call when Asterisk hands over its audio (from the routing answer). */
export const MediaRoute = z.strictObject({
  call_record_id: z.uuid(),
  tenant_id: z.uuid(),
});
export type MediaRoute = z.output<typeof MediaRoute>;

/** The path and query the bridge connects to, and signs. */
export function asteriskMediaTarget(route: MediaRoute): string {
  return `${ASTERISK_MEDIA_PREFIX}${route.call_record_id}?${new URLSearchParams({ tenant_id: route.tenant_id })}`;
}

/** What is signed for an upgrade: the request target exactly as sent. */
export function mediaSignedContent(pathAndQuery: string): string {
  return `GET ${pathAndQuery}`;
}
