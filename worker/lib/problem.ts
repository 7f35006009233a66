// RFC 9457 problem details: the one error shape of the API. Routes throw ApiError; the app's
// onError, validation hook and notFound turn everything into a problem+json response.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface FieldError {
  path: string;
  message: string;
}

export interface ApiErrorOptions {
  /** Per-field validation errors, for 400 validation_failed. */
  errors?: FieldError[];
  /** Extra response headers (Retry-After, Allow, WWW-Authenticate). */
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(status: ContentfulStatusCode, code: string, title: string, detail: string, options: ApiErrorOptions = {}) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export const notFound = (what: string) =>
  new ApiError(404, `${what.replaceAll(' ', '_')}_not_found`, 'Not found', `No ${what} with that id exists.`);

export function problemResponse(c: Context, error: ApiError) {
  const body = {
    type: `urn:vca:problem:${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    ...(error.errors ? { errors: error.errors } : {}),
    request_id: c.get('requestId') as string | undefined,
  };
  return c.newResponse(JSON.stringify(body), error.status, {
    'content-type': 'application/problem+json',
    ...error.headers,
  });
}

// The OpenAPI side: every route documents its possible problems with this one schema.
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'urn:vca:problem:validation_failed' }),
    title: z.string().openapi({ example: 'Invalid request' }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string(),
    code: z.string().openapi({ description: 'Stable, machine-readable error code.' }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .openapi('Problem');

const descriptions: Record<number, string> = {
  400: 'Invalid input (malformed JSON, wrong types, unknown fields, bad query parameters)',
  401: 'Missing or invalid credentials',
  403: 'Not allowed: an operator-only route for a tenant key, an inactive tenant’s key, or an ingest source outside TELEPHONY_ALLOWED_IPS',
  404: 'Not found (also: not yours)',
  409: 'Conflict with an existing resource',
  413: 'Request body too large',
  415: 'Unsupported content type',
  429: 'Too many requests (with Retry-After)',
  502: 'The carrier (Twilio) refused the change or could not be reached; nothing was changed',
  503: 'Service misconfigured or database unreachable',
};

/**
 * The problems a route can answer. Every route that documents problems is rate-limited, so 429 is
 * always among them; and every route that takes credentials (401) can also refuse them with 403
 * (an inactive tenant's key, an operator-only route, an ingest source outside the allowlist).
 */
export function problems(...statuses: number[]) {
  statuses.push(429);
  if (statuses.includes(401) && !statuses.includes(403)) statuses.push(403);
  const out: Record<number, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }> = {};
  for (const status of statuses) {
    out[status] = {
      description: descriptions[status] ?? 'Error',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    };
  }
  return out;
}
