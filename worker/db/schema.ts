// The data model of DESIGN.md, in one place. Migrations under drizzle/ are generated from this
// file by `npm run db:generate`; never edit them by hand.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgSequence,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const tenantStatus = pgEnum('tenant_status', ['active', 'suspended', 'deleted']);
export const tenantPlan = pgEnum('tenant_plan', ['starter', 'growth', 'custom']);
/** Who carries a number's calls: `generic` is the Tata trunk through Asterisk and the bridge; `twilio` reaches the Worker directly. */
export const providerType = pgEnum('provider_type', ['generic', 'twilio', 'telnyx']);
export const aiProfileRole = pgEnum('ai_profile_role', ['receptionist', 'sales', 'support', 'dispatcher', 'custom']);
export const callDirection = pgEnum('call_direction', ['inbound', 'outbound']);
export const callStatus = pgEnum('call_status', ['initiated', 'ringing', 'answered', 'ended', 'failed']);
/** Why a call's AI session ended (DESIGN.md, "Call sessions"). */
export const callSessionEndReason = pgEnum('call_session_end_reason', [
  'caller_hung_up',
  'agent_ended',
  'time_limit',
  'model_unavailable',
  'model_failed',
  'error',
]);

// Timestamps come back as Postgres text (microsecond precision): the list cursors compare them
// exactly, and responses format them as ISO-8601.
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'string' });
const createdAt = () => timestamptz('created_at').notNull().defaultNow();
const updatedAt = () => timestamptz('updated_at').notNull().defaultNow();

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    status: tenantStatus('status').notNull().default('active'),
    plan: tenantPlan('plan').notNull().default('starter'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('tenants_created_at_id_idx').on(t.createdAt, t.id), check('tenants_name_not_blank', sql`length(btrim(${t.name})) > 0`)],
);

export const phoneNumbers = pgTable(
  'phone_numbers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    didNumber: text('did_number').notNull(),
    providerType: providerType('provider_type').notNull().default('generic'),
    isActive: boolean('is_active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique('phone_numbers_did_number_key').on(t.didNumber),
    unique('phone_numbers_tenant_id_id_key').on(t.tenantId, t.id),
    index('phone_numbers_tenant_created_at_id_idx').on(t.tenantId, t.createdAt, t.id),
    check('phone_numbers_did_number_e164', sql`${t.didNumber} ~ '^\\+[1-9][0-9]{1,14}$'`),
  ],
);

export const aiProfiles = pgTable(
  'ai_profiles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    role: aiProfileRole('role').notNull(),
    systemPrompt: text('system_prompt').notNull(),
    isDefault: boolean('is_default').notNull().default(false),
    /** What the agent says first; null: it waits for the caller. */
    greeting: text('greeting'),
    /** The realtime model's voice, e.g. `alloy`. */
    voice: text('voice').notNull().default('alloy'),
    /** BCP 47, canonical form (`en-IN`); null: the model's own choice. */
    language: text('language'),
    maxDurationSeconds: integer('max_duration_seconds').notNull().default(600),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique('ai_profiles_tenant_id_id_key').on(t.tenantId, t.id),
    index('ai_profiles_tenant_created_at_id_idx').on(t.tenantId, t.createdAt, t.id),
    // The last word on "one default per tenant", whatever the application does.
    uniqueIndex('ai_profiles_one_default_per_tenant').on(t.tenantId).where(sql`${t.isDefault}`),
    check('ai_profiles_system_prompt_not_blank', sql`length(btrim(${t.systemPrompt})) > 0`),
    check('ai_profiles_name_not_blank', sql`length(btrim(${t.name})) > 0`),
    check(
      'ai_profiles_greeting_length',
      sql`${t.greeting} is null or (length(btrim(${t.greeting})) > 0 and char_length(${t.greeting}) <= 1000)`,
    ),
    check('ai_profiles_voice_identifier', sql`${t.voice} ~ '^[a-z0-9_-]{1,32}$'`),
    check('ai_profiles_language_tag', sql`${t.language} is null or ${t.language} ~ '^[A-Za-z0-9-]{1,35}$'`),
    check('ai_profiles_max_duration_range', sql`${t.maxDurationSeconds} between 30 and 3600`),
  ],
);

export const calls = pgTable(
  'calls',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    phoneNumberId: uuid('phone_number_id').notNull(),
    aiProfileId: uuid('ai_profile_id'),
    direction: callDirection('direction').notNull().default('inbound'),
    status: callStatus('status').notNull().default('initiated'),
    callerNumber: text('caller_number'),
    calledNumber: text('called_number').notNull(),
    externalCallId: text('external_call_id').notNull(),
    /** The carrier the call came through: its number's provider type when it arrived. */
    carrier: providerType('carrier').notNull().default('generic'),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    answeredAt: timestamptz('answered_at'),
    endedAt: timestamptz('ended_at'),
    durationSeconds: integer('duration_seconds'),
    hangupCause: integer('hangup_cause'),
    /** When the call's AI session got its media; null: no session ran. */
    sessionStartedAt: timestamptz('session_started_at'),
    sessionEndedAt: timestamptz('session_ended_at'),
    sessionEndReason: callSessionEndReason('session_end_reason'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // A call can never point at another tenant's number or profile.
    foreignKey({
      name: 'calls_tenant_phone_number_fk',
      columns: [t.tenantId, t.phoneNumberId],
      foreignColumns: [phoneNumbers.tenantId, phoneNumbers.id],
    }),
    foreignKey({
      name: 'calls_tenant_ai_profile_fk',
      columns: [t.tenantId, t.aiProfileId],
      foreignColumns: [aiProfiles.tenantId, aiProfiles.id],
    }),
    // Ingest is idempotent on the PBX's call id within a tenant.
    unique('calls_tenant_external_call_id_key').on(t.tenantId, t.externalCallId),
    // So that a call's child rows (its transcript) reference the pair and never another tenant's call.
    unique('calls_tenant_id_id_key').on(t.tenantId, t.id),
    index('calls_tenant_created_at_id_idx').on(t.tenantId, t.createdAt, t.id),
    index('calls_tenant_started_at_idx').on(t.tenantId, t.startedAt),
    check('calls_duration_not_negative', sql`${t.durationSeconds} is null or ${t.durationSeconds} >= 0`),
    check('calls_session_end_has_reason', sql`(${t.sessionEndedAt} is null) = (${t.sessionEndReason} is null)`),
  ],
);

/** What was said in a call's AI session, and its summary: one row per call, written when the session ends. */
export const callTranscripts = pgTable(
  'call_transcripts',
  {
    callId: uuid('call_id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    /** `[{role: 'caller' | 'agent', text, offset_ms}]`, in the order spoken. */
    turns: jsonb('turns').$type<{ role: 'caller' | 'agent'; text: string; offset_ms: number }[]>().notNull().default([]),
    summary: text('summary'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // A transcript can never belong to another tenant's call.
    foreignKey({
      name: 'call_transcripts_tenant_call_fk',
      columns: [t.tenantId, t.callId],
      foreignColumns: [calls.tenantId, calls.id],
    }),
    index('call_transcripts_tenant_created_at_idx').on(t.tenantId, t.createdAt, t.callId),
    check('call_transcripts_turns_array', sql`jsonb_typeof(${t.turns}) = 'array'`),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    /** The first characters of the secret, to find the row; the secret itself is only hashed. */
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole secret, hex. */
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at'),
    revokedAt: timestamptz('revoked_at'),
    lastUsedAt: timestamptz('last_used_at'),
  },
  (t) => [
    unique('api_keys_prefix_key').on(t.prefix),
    unique('api_keys_tenant_id_id_key').on(t.tenantId, t.id),
    index('api_keys_tenant_created_at_id_idx').on(t.tenantId, t.createdAt, t.id),
    check('api_keys_name_not_blank', sql`length(btrim(${t.name})) > 0`),
  ],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    actorType: text('actor_type', { enum: ['operator', 'api_key'] }).notNull(),
    /** Operator: a fingerprint of the token (never the token); tenant key: the key's id. */
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: uuid('resource_id').notNull(),
    /** Changed fields and their new values; secrets and prompt texts are never copied here. */
    changes: jsonb('changes').notNull().default({}),
    requestId: text('request_id'),
    sourceIp: text('source_ip'),
    createdAt: createdAt(),
  },
  (t) => [
    index('audit_events_tenant_created_at_id_idx').on(t.tenantId, t.createdAt, t.id),
    check('audit_events_actor_type', sql`${t.actorType} in ('operator', 'api_key')`),
  ],
);

/**
 * The routing version (DESIGN.md, "Routing at the PBX"): one row per phone number that ever
 * existed, with the version of the last change that affected its route. Written only by the
 * database's own triggers (drizzle/0009), at commit and one transaction at a time, so versions
 * grow in commit order; read only through vca_list_routes. No foreign key: a deleted number keeps
 * its row, so the bridge learns the route is gone. It holds no tenant data, and the application
 * role has no privilege on it.
 */
export const routingVersionSeq = pgSequence('routing_version_seq');

export const routeVersions = pgTable(
  'route_versions',
  {
    phoneNumberId: uuid('phone_number_id').primaryKey(),
    version: bigint('version', { mode: 'number' }).notNull(),
  },
  (t) => [unique('route_versions_version_key').on(t.version)],
);
