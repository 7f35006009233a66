/** Two operator tokens, as a rotation would list them (old, new). */
export const OPERATOR_TOKENS = ['test-operator-token-old', 'test-operator-token-new'] as const;

/** Telephony signing secrets the test Worker accepts (old, new), and one it does not (removed in a rotation). */
export const SIGNING_SECRETS = [
  'whsec_IuybHIqPptn9u4FX0796ATJ1I5kJFzYE1qsBSKc3xzA=',
  'whsec_76Uh5YNXkF9AqhgvmYY4+LBJ99rdMXkITxm6gU1D3hc=',
] as const;
export const REMOVED_SIGNING_SECRET = 'whsec_CzPmF4bCImdEbcLhXNRhxlX6XTBapcnUAQw0vWYw2gU=';

/** The key the suite's Worker presents to the realtime model emulator (any non-empty key is accepted). */
export const REALTIME_API_KEY = 'test-realtime-key';

/** The Twilio account the test Worker is configured with, and another account's. */
export const TWILIO_ACCOUNT_SID = 'AC5a1e0c9d2b7f4a68e3c1d0b9a8f7e6d5';
export const TWILIO_AUTH_TOKEN = '7c3e9a1f5b2d4e6a8c0b1d3f5e7a9c2b';
export const OTHER_TWILIO_ACCOUNT_SID = 'ACf00dfeedbeef0123456789abcdef0123';
export const OTHER_TWILIO_AUTH_TOKEN = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
/**
 * The suite Worker's PUBLIC_BASE_URL. It is started before its own address is known, and Twilio
 * signs the URL it was configured with anyway, not the address it reaches: tests sign over this
 * origin and send to the real one, as Twilio does behind a proxy.
 */
export const PUBLIC_BASE_URL = 'http://vca.test';

/**
 * Telnyx: the API key the test Worker presents, its Call Control connection, and the Ed25519 key
 * pair its webhooks are signed with (Mission Control shows the public key as base64 of its 32 raw
 * bytes; the private key, PKCS#8 DER in base64, exists only here). OTHER_ is a key Telnyx does not use.
 */
export const TELNYX_API_KEY = 'KEY0123456789ABCDEF0123456789ABCDEF_testkeytesttest';
export const TELNYX_CONNECTION_ID = '1494404757140276705';
export const TELNYX_PUBLIC_KEY = 'nHkvJCSXArz5VhGC/3dTfyfEmlS2RxJwWT9qJeVh4nY=';
export const TELNYX_PRIVATE_KEY_PKCS8 = 'MC4CAQAwBQYDK2VwBCIEIKjLVcHPufqRSp06PNr5nWWwGiVPcy80RyDg87Yfcr0Z';
export const OTHER_TELNYX_PUBLIC_KEY = '6YjE6cBAhsQIK8wXVeLtJmSDDfFaOkp2omyNJjsCbqE=';
export const OTHER_TELNYX_PRIVATE_KEY_PKCS8 = 'MC4CAQAwBQYDK2VwBCIEIBeeXTE7RzIzpP2+ZdwD0j5BUNkDcjnH5PNIbt16RCdg';
