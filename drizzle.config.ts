import { defineConfig } from 'drizzle-kit';

// Generating migrations needs no database; applying them is `npm run db:migrate` (tools/migrate.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './worker/db/schema.ts',
  out: './drizzle',
});
