// The one place where phone numbers are parsed. DIDs are stored and compared in E.164 so that
// `+919876543210` and `09876543210` (with DEFAULT_COUNTRY=IN) are the same number.
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

const PHONE_CHARACTERS = /^\+?[0-9 ().-]{3,32}$/;

/** E.164 form of a DID, or null when the text is not a valid phone number. */
export function normalizeDid(text: string, defaultCountry: string): string | null {
  const trimmed = text.trim();
  if (!PHONE_CHARACTERS.test(trimmed)) return null;
  const parsed = parsePhoneNumberFromString(trimmed, {
    defaultCountry: defaultCountry as CountryCode,
    extract: false,
  });
  return parsed?.isValid() ? parsed.number : null;
}
