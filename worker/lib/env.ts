// The types every part of the Worker shares: its bindings, the per-request context variables, the
// app type and who is calling. They live apart from the app factory so that middleware (auth,
// rate limits, audit) and routes can name them without importing the app, and nothing in lib/
// imports in a circle.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { TelnyxMediaRoute } from '../telephony/telnyx-media.ts';
import type { ConfigResult, Settings, TelnyxSettings, TwilioSettings } from './config.ts';
import type { Database } from './db.ts';
import type { LogFields, Logger } from './log.ts';

export interface Bindings {
  DATABASE_URL?: string;
  ADMIN_API_TOKENS?: string;
  TELEPHONY_SIGNING_SECRETS?: string;
  APP_ENV?: string;
  DEFAULT_COUNTRY?: string;
  NEON_WS_PROXY?: string;
  TELEPHONY_ALLOWED_IPS?: string;
  REALTIME_URL?: string;
  REALTIME_MODEL?: string;
  REALTIME_API_KEY?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_API_BASE_URL?: string;
  TELNYX_API_KEY?: string;
  TELNYX_PUBLIC_KEY?: string;
  TELNYX_CONNECTION_ID?: string;
  TELNYX_API_BASE_URL?: string;
  PUBLIC_BASE_URL?: string;
  API_RATE_LIMITER?: RateLimit;
  INGEST_RATE_LIMITER?: RateLimit;
  /** One CallSession Durable Object per call, named by the call record id. */
  CALL_SESSION?: DurableObjectNamespace;
}

/** Who is calling /api: an operator token, or a tenant's API key (which sees that tenant only). */
export type Actor = { type: 'operator'; id: string } | { type: 'api_key'; id: string; tenantId: string };

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    log: Logger;
    config: ConfigResult;
    /** Only on routes behind requireSettings (all of /api). */
    settings: Settings;
    /** Only on the Twilio routes, behind requireTwilio. */
    twilio: TwilioSettings;
    /** Only on the Telnyx routes, behind requireTelnyx. */
    telnyx: TelnyxSettings;
    actor: Actor;
    /** The request's database, connected on first use and closed after the response. */
    db: () => Database;
    /** What the request's one log line says beyond method, path, status and duration. */
    logEntry?: { msg: string; fields: LogFields };
    /** Only on the Telnyx media route, behind requireTelnyxMediaToken: what the stream URL's token vouches for. */
    telnyxMedia: TelnyxMediaRoute;
    /** The path as that log line records it, when the real one carries a credential (Telnyx's media token). */
    logPath?: string;
  };
};

export type App = OpenAPIHono<AppEnv>;
