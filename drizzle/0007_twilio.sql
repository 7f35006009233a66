ALTER TYPE "public"."provider_type" ADD VALUE 'twilio';--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "carrier" "provider_type" DEFAULT 'generic' NOT NULL;