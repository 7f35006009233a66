/** Two operator tokens, as a rotation would list them (old, new). */
export const OPERATOR_TOKENS = ['test-operator-token-old', 'test-operator-token-new'] as const;
