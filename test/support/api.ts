// Talks to the running Worker over HTTP, as a client would.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { normalizeDid } from '../../contract/phone.ts';
import { OPERATOR_TOKENS } from './constants.ts';

export const OPERATOR = OPERATOR_TOKENS[1];

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw body text, sent as is (for malformed JSON and the like). */
  raw?: string;
  token?: string | null;
  headers?: Record<string, string>;
  baseUrl?: string;
}

export async function api<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? OPERATOR : options.token;
  if (token !== null && !('authorization' in headers)) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${options.baseUrl ?? inject('workerUrl')}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

export async function createTenant(fields: Record<string, unknown> = {}) {
  const response = await api('POST', '/api/tenants', { body: { name: `Tenant ${randomUUID().slice(0, 8)}`, ...fields } });
  if (response.status !== 201) throw new Error(`createTenant: ${response.status} ${response.text}`);
  return response.body as { id: string; name: string; status: string; plan: string };
}

export async function createPhoneNumber(tenantId: string, fields: Record<string, unknown> = {}) {
  const response = await api('POST', `/api/tenants/${tenantId}/phone-numbers`, { body: { did_number: randomDid(), ...fields } });
  if (response.status !== 201) throw new Error(`createPhoneNumber: ${response.status} ${response.text}`);
  return response.body as { id: string; tenant_id: string; did_number: string; is_active: boolean };
}

export async function createAiProfile(tenantId: string, fields: Record<string, unknown> = {}) {
  const response = await api('POST', `/api/tenants/${tenantId}/ai-profiles`, {
    body: { name: 'Front desk', role: 'receptionist', system_prompt: 'You are a helpful receptionist.', ...fields },
  });
  if (response.status !== 201) throw new Error(`createAiProfile: ${response.status} ${response.text}`);
  return response.body as { id: string; tenant_id: string; name: string; is_default: boolean };
}

/** A random Indian mobile DID in E.164 that libphonenumber accepts as valid. */
export function randomDid(): string {
  for (;;) {
    const candidate = `+919${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;
    if (normalizeDid(candidate, 'IN') === candidate) return candidate;
  }
}

let pool: pg.Pool | undefined;

/** Direct SQL, for what the API cannot do (inserting calls, checking rows behind the API's back). */
export function sql<T extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<pg.QueryResult<T>> {
  pool ??= new pg.Pool({ connectionString: inject('databaseUrl'), max: 4 });
  return pool.query<T>(text, values);
}

export async function insertCall(
  tenantId: string,
  phoneNumber: { id: string; did_number: string },
  fields: Partial<{
    status: string;
    direction: string;
    started_at: string;
    duration_seconds: number;
    ai_profile_id: string;
    caller_number: string;
  }> = {},
) {
  const { rows } = await sql(
    `insert into calls (tenant_id, phone_number_id, ai_profile_id, direction, status, caller_number, called_number, external_call_id, started_at, duration_seconds)
     values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9::timestamptz, now()), $10) returning id`,
    [
      tenantId,
      phoneNumber.id,
      fields.ai_profile_id ?? null,
      fields.direction ?? 'inbound',
      fields.status ?? 'initiated',
      fields.caller_number ?? '+14155550100',
      phoneNumber.did_number,
      randomUUID(),
      fields.started_at ?? null,
      fields.duration_seconds ?? null,
    ],
  );
  return rows[0].id as string;
}

export function expectProblem(response: ApiResponse, status: number, code: string) {
  const problem = response.body as Record<string, unknown>;
  const ok =
    response.status === status &&
    response.headers.get('content-type')?.startsWith('application/problem+json') &&
    problem?.code === code &&
    problem?.status === status &&
    typeof problem?.type === 'string' &&
    typeof problem?.title === 'string' &&
    typeof problem?.detail === 'string';
  if (!ok)
    throw new Error(
      `expected ${status} problem "${code}", got ${response.status} ${response.headers.get('content-type')} ${response.text}`,
    );
  return problem as {
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
    errors?: { path: string; message: string }[];
  };
}
