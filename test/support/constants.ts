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
