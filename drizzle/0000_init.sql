CREATE TYPE "public"."ai_profile_role" AS ENUM('receptionist', 'sales', 'support', 'dispatcher', 'custom');--> statement-breakpoint
CREATE TYPE "public"."call_direction" AS ENUM('inbound', 'outbound');--> statement-breakpoint
CREATE TYPE "public"."call_status" AS ENUM('initiated', 'ringing', 'answered', 'ended', 'failed');--> statement-breakpoint
CREATE TYPE "public"."provider_type" AS ENUM('generic');--> statement-breakpoint
CREATE TYPE "public"."tenant_plan" AS ENUM('starter', 'growth', 'custom');--> statement-breakpoint
CREATE TYPE "public"."tenant_status" AS ENUM('active', 'suspended', 'deleted');--> statement-breakpoint
CREATE TABLE "ai_profiles" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"role" "ai_profile_role" NOT NULL,
	"system_prompt" text NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ai_profiles_tenant_id_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "ai_profiles_system_prompt_not_blank" CHECK (length(btrim("ai_profiles"."system_prompt")) > 0),
	CONSTRAINT "ai_profiles_name_not_blank" CHECK (length(btrim("ai_profiles"."name")) > 0)
);
--> statement-breakpoint
CREATE TABLE "calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"phone_number_id" uuid NOT NULL,
	"ai_profile_id" uuid,
	"direction" "call_direction" DEFAULT 'inbound' NOT NULL,
	"status" "call_status" DEFAULT 'initiated' NOT NULL,
	"caller_number" text,
	"called_number" text NOT NULL,
	"external_call_id" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"answered_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"duration_seconds" integer,
	"hangup_cause" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "calls_tenant_external_call_id_key" UNIQUE("tenant_id","external_call_id"),
	CONSTRAINT "calls_duration_not_negative" CHECK ("calls"."duration_seconds" is null or "calls"."duration_seconds" >= 0)
);
--> statement-breakpoint
CREATE TABLE "phone_numbers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"did_number" text NOT NULL,
	"provider_type" "provider_type" DEFAULT 'generic' NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "phone_numbers_did_number_key" UNIQUE("did_number"),
	CONSTRAINT "phone_numbers_tenant_id_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "phone_numbers_did_number_e164" CHECK ("phone_numbers"."did_number" ~ '^\+[1-9][0-9]{1,14}$')
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"status" "tenant_status" DEFAULT 'active' NOT NULL,
	"plan" "tenant_plan" DEFAULT 'starter' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenants_name_not_blank" CHECK (length(btrim("tenants"."name")) > 0)
);
--> statement-breakpoint
ALTER TABLE "ai_profiles" ADD CONSTRAINT "ai_profiles_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_tenant_phone_number_fk" FOREIGN KEY ("tenant_id","phone_number_id") REFERENCES "public"."phone_numbers"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_tenant_ai_profile_fk" FOREIGN KEY ("tenant_id","ai_profile_id") REFERENCES "public"."ai_profiles"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ai_profiles_tenant_created_at_id_idx" ON "ai_profiles" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "ai_profiles_one_default_per_tenant" ON "ai_profiles" USING btree ("tenant_id") WHERE "ai_profiles"."is_default";--> statement-breakpoint
CREATE INDEX "calls_tenant_created_at_id_idx" ON "calls" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "calls_tenant_started_at_idx" ON "calls" USING btree ("tenant_id","started_at");--> statement-breakpoint
CREATE INDEX "phone_numbers_tenant_created_at_id_idx" ON "phone_numbers" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "tenants_created_at_id_idx" ON "tenants" USING btree ("created_at","id");