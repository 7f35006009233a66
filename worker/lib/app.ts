// The app factory: one place for the cross-cutting behaviour every route shares — request ids,
// access logs, body limits, configuration, the per-request database, and the mapping of every
// failure (validation, auth, unknown route, wrong method, database down, bug) to problem+json.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { loadConfig } from './config.ts';
import { databaseUnavailable, isDatabaseUnavailable, openDatabase, sqlState } from './db.ts';
import type { App, AppEnv } from './env.ts';
import { createLogger } from './log.ts';
import { ApiError, type FieldError, problemResponse } from './problem.ts';

const MAX_BODY_BYTES = 64 * 1024;
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(): App {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use(async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const log = createLogger({ request_id: requestId });
    c.set('requestId', requestId);
    c.set('log', log);
    const started = Date.now();
    await next();
    c.header('x-request-id', requestId);
    c.header('x-content-type-options', 'nosniff');
    // One line per request: a route may name it and add fields (the ingest does).
    const entry = c.var.logEntry;
    log.info(entry?.msg ?? 'request', {
      method: c.req.method,
      path: c.var.logPath ?? c.req.path,
      status: c.res.status,
      duration_ms: Date.now() - started,
      ...entry?.fields,
    });
  });

  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        problemResponse(
          c,
          new ApiError(413, 'payload_too_large', 'Payload too large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`),
        ),
    }),
  );

  app.use(async (c, next) => {
    const config = loadConfig(c.env as unknown as Record<string, unknown>);
    c.set('config', config);
    let connection: ReturnType<typeof openDatabase> | undefined;
    c.set('db', () => {
      if (!config.ok) throw misconfigured(config.problems);
      connection ??= openDatabase(config.settings);
      return connection.db;
    });
    try {
      await next();
    } finally {
      if (connection) c.executionCtx.waitUntil(connection.close().catch(() => {}));
    }
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) return problemResponse(c, error);
    if (error instanceof HTTPException) return problemResponse(c, fromHttpException(error));
    if (['22021', '22P05'].includes(sqlState(error) ?? '')) {
      // Text Postgres cannot store slipped past validation: still the client's input, not a bug.
      return problemResponse(
        c,
        new ApiError(400, 'invalid_text', 'Invalid request', 'The request contains characters that cannot be stored.'),
      );
    }
    if (isDatabaseUnavailable(error)) {
      c.var.log?.warn('database unavailable', { error: errorName(error), sqlstate: sqlState(error) });
      return problemResponse(c, databaseUnavailable());
    }
    // A bug. Log what helps find it, but never the driver's message (it can quote SQL and values).
    c.var.log?.error('unhandled error', { error: errorName(error), sqlstate: sqlState(error), stack: stackHead(error) });
    return problemResponse(
      c,
      new ApiError(
        500,
        'internal_error',
        'Internal server error',
        'Something went wrong on our side. Quote the request id if you report it.',
      ),
    );
  });

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0) {
      return problemResponse(
        c,
        new ApiError(
          405,
          'method_not_allowed',
          'Method not allowed',
          `${c.req.method} is not supported here. Allowed: ${allowed.join(', ')}.`,
          { headers: { allow: allowed.join(', ') } },
        ),
      );
    }
    return problemResponse(c, new ApiError(404, 'route_not_found', 'Not found', `There is no route ${c.req.method} ${c.req.path}.`));
  });

  return app;
}

/** Marks the response, whatever produced it (route, refusing middleware, error handler), as not cacheable. */
export async function noStore(c: Context<AppEnv>, next: () => Promise<void>) {
  await next();
  c.header('cache-control', 'no-store');
}

/** For every route that needs valid configuration: 503 problem+json otherwise. */
export async function requireSettings(c: Context<AppEnv>, next: () => Promise<void>) {
  const config = c.var.config;
  if (!config.ok) throw misconfigured(config.problems);
  c.set('settings', config.settings);
  await next();
}

function misconfigured(problems: string[]) {
  return new ApiError(503, 'service_misconfigured', 'Service unavailable', `The service is misconfigured: ${problems.join('; ')}.`);
}

function validationHook(
  result: { success: true } | { success: false; error: { issues: ValidationIssue[] }; target: string },
  c: Context<AppEnv>,
) {
  if (result.success) return;
  if (result.target === 'param') {
    // A path id that is not a UUID names nothing that could exist.
    const param = String(result.error.issues[0]?.path[0] ?? '');
    const resource = param.replace(/_id$/, '').replaceAll('_', ' ') || 'resource';
    return problemResponse(
      c,
      new ApiError(404, `${resource.replaceAll(' ', '_')}_not_found`, 'Not found', `No ${resource} with that id exists.`),
    );
  }
  const errors = result.error.issues.flatMap(toFieldErrors);
  const where = result.target === 'query' ? 'query parameters' : 'request body';
  return problemResponse(
    c,
    new ApiError(
      400,
      'validation_failed',
      'Invalid request',
      `The ${where} did not pass validation: ${errors.map((e) => `${e.path || '(body)'}: ${e.message}`).join('; ')}.`,
      { errors },
    ),
  );
}

interface ValidationIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

function toFieldErrors(issue: ValidationIssue): FieldError[] {
  const base = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return issue.keys.map((key) => ({ path: base ? `${base}.${key}` : key, message: 'unknown field' }));
  }
  return [{ path: base, message: issue.message }];
}

function fromHttpException(error: HTTPException): ApiError {
  if (error.status === 400 && /json/i.test(error.message)) {
    return new ApiError(400, 'malformed_json', 'Invalid request', 'The request body is not valid JSON.');
  }
  if (error.status === 415) {
    return new ApiError(415, 'unsupported_media_type', 'Unsupported media type', 'Send the request body as application/json.');
  }
  return new ApiError(
    error.status as ApiError['status'],
    'http_error',
    'Request failed',
    error.message || 'The request could not be processed.',
  );
}

let routeTable: { method: string; pattern: RegExp }[] | undefined;

function allowedMethods(app: App, path: string): string[] {
  routeTable ??= app.routes
    .filter((route) => route.method !== 'ALL')
    .map((route) => ({
      method: route.method,
      pattern: new RegExp(`^${route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]\w*/g, '[^/]+')}$`),
    }));
  const methods = new Set(routeTable.filter((route) => route.pattern.test(path)).map((route) => route.method));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

function errorName(error: unknown) {
  return error instanceof Error ? error.name : typeof error;
}

// The first frames only (file:line), never the message.
function stackHead(error: unknown) {
  if (!(error instanceof Error) || !error.stack) return undefined;
  return error.stack
    .split('\n')
    .filter((line) => line.trim().startsWith('at '))
    .slice(0, 4)
    .map((line) => line.trim())
    .join(' | ');
}
