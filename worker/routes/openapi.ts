// OpenAPI building blocks the routes share: path parameters, the security requirement, and JSON
// bodies and answers. A path id that is not a UUID is answered 404 by the validation hook
// (lib/app.ts): it cannot name anything that exists.
import { z } from '@hono/zod-openapi';

const id = (name: string, description: string) =>
  z.uuid().openapi({ param: { name, in: 'path' }, description, example: '0b9c5f5e-3d43-4a43-9a8e-6f1f3c1b2a10' });

export const TenantParams = z.object({ tenant_id: id('tenant_id', 'Tenant id') });

export const PhoneNumberParams = TenantParams.extend({ phone_number_id: id('phone_number_id', 'Phone number id') });

export const AiProfileParams = TenantParams.extend({ ai_profile_id: id('ai_profile_id', 'AI profile id') });

export const CallParams = TenantParams.extend({ call_id: id('call_id', 'Call id') });

export const ApiKeyParams = TenantParams.extend({ api_key_id: id('api_key_id', 'API key id') });

/** Operator token or tenant API key; routes marked operator-only answer 403 to tenant keys. */
export const bearerSecurity = [{ bearerAuth: [] }];

export const jsonBody = <T>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

export const jsonResponse = <T>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
