CREATE TYPE "public"."call_session_end_reason" AS ENUM('caller_hung_up', 'agent_ended', 'time_limit', 'model_unavailable', 'model_failed', 'error');--> statement-breakpoint
CREATE TABLE "call_transcripts" (
	"call_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"turns" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"summary" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "call_transcripts_turns_array" CHECK (jsonb_typeof("call_transcripts"."turns") = 'array')
);
--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD COLUMN "greeting" text;--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD COLUMN "voice" text DEFAULT 'alloy' NOT NULL;--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD COLUMN "language" text;--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD COLUMN "max_duration_seconds" integer DEFAULT 600 NOT NULL;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "session_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "session_ended_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "session_end_reason" "call_session_end_reason";--> statement-breakpoint
-- Moved by hand above the foreign key that needs it (drizzle-kit emits unique constraints last).
ALTER TABLE "calls" ADD CONSTRAINT "calls_tenant_id_id_key" UNIQUE("tenant_id","id");--> statement-breakpoint
ALTER TABLE "call_transcripts" ADD CONSTRAINT "call_transcripts_tenant_call_fk" FOREIGN KEY ("tenant_id","call_id") REFERENCES "public"."calls"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "call_transcripts_tenant_created_at_idx" ON "call_transcripts" USING btree ("tenant_id","created_at","call_id");--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD CONSTRAINT "ai_profiles_greeting_length" CHECK ("ai_profiles"."greeting" is null or (length(btrim("ai_profiles"."greeting")) > 0 and char_length("ai_profiles"."greeting") <= 1000));--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD CONSTRAINT "ai_profiles_voice_identifier" CHECK ("ai_profiles"."voice" ~ '^[a-z0-9_-]{1,32}$');--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD CONSTRAINT "ai_profiles_language_tag" CHECK ("ai_profiles"."language" is null or "ai_profiles"."language" ~ '^[A-Za-z0-9-]{1,35}$');--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD CONSTRAINT "ai_profiles_max_duration_range" CHECK ("ai_profiles"."max_duration_seconds" between 30 and 3600);--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_session_end_has_reason" CHECK (("calls"."session_ended_at" is null) = ("calls"."session_end_reason" is null));