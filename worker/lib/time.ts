// Postgres returns timestamptz as text ("2026-11-25 08:30:00.123456+00"); the API speaks ISO-8601 UTC.
const PG_TIMESTAMP = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?(?::\d\d)?|Z)?$/;

export function toIso(value: string): string;
export function toIso(value: string | null): string | null;
export function toIso(value: string | null): string | null {
  if (value === null) return null;
  const match = PG_TIMESTAMP.exec(value);
  if (!match) return new Date(value).toISOString();
  const [, date, time, offsetHours, offsetMinutes] = match;
  const offset = offsetHours ? `${offsetHours}:${offsetMinutes ?? '00'}` : 'Z';
  return new Date(`${date}T${time}${offset}`).toISOString();
}
