// What a call session leaves behind, read the way its tests check it: the call row's session
// columns behind the API's back, the transcript through the API, and the emulator's record of the
// session (found by a tag line each test puts in the profile's prompt).
import { inject } from 'vitest';
import { api, sql } from './api.ts';

export interface SessionCall {
  tenantId: string;
  callRecordId: string;
}

export type Transcript = { turns: { role: string; text: string; offset_ms: number }[]; summary: string | null };

export async function sessionCallRow(id: string) {
  const { rows } = await sql(
    'select status, answered_at, session_started_at, session_ended_at, session_end_reason from calls where id = $1',
    [id],
  );
  return rows[0];
}

/** The session's records once it has written them (after the call ended), waiting up to ~10 s. */
export async function endedSession(call: SessionCall) {
  for (let i = 0; i < 100; i++) {
    const row = await sessionCallRow(call.callRecordId);
    if (row?.session_end_reason) {
      const transcript = await api('GET', `/api/tenants/${call.tenantId}/calls/${call.callRecordId}/transcript`);
      return { row, transcript: transcript.body as Transcript };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the session did not record its end');
}

/** Every session the suite's emulator has seen (GET /__emulator/sessions). */
export async function emulatorSessions(url = inject('realtimeUrl')): Promise<any[]> {
  const origin = new URL(url.replace(/^ws/, 'http')).origin;
  return ((await (await fetch(`${origin}/__emulator/sessions`)).json()) as { sessions: any[] }).sessions;
}

/** The emulator's record of the session whose instructions carry `tag`; undefined if none. */
export async function emulatorSessionTagged(tag: string): Promise<any | undefined> {
  return (await emulatorSessions()).find((session) => String(session.instructions).includes(tag));
}
