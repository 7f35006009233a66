// Concurrency: the database, not luck, decides who wins. Every request here is fired at once.
import { describe, expect, it } from 'vitest';
import { type ApiResponse, api, createAiProfile, createTenant, expectProblem, randomDid, sql } from './support/api.ts';

const CONCURRENCY = 50;

/** `+919876543210` → `09876543210`: the same number written in Indian national format. */
const national = (e164: string) => `0${e164.slice(3)}`;

async function rowsForDid(did: string) {
  const { rows } = await sql<{ id: string; tenant_id: string }>('select id, tenant_id from phone_numbers where did_number = $1', [did]);
  return rows;
}

/** Exactly one 201 and the rest clean 409 did_already_registered; returns the winner. */
function expectOneWinner(responses: ApiResponse[], did: string) {
  const statuses = responses.map((r) => r.status);
  const created = responses.filter((r) => r.status === 201);
  const conflicts = responses.filter((r) => r.status === 409);
  expect(statuses.filter((s) => s !== 201 && s !== 409)).toEqual([]);
  expect(created).toHaveLength(1);
  expect(conflicts).toHaveLength(CONCURRENCY - 1);
  for (const conflict of conflicts) expectProblem(conflict, 409, 'did_already_registered');
  const winner = created[0] as ApiResponse;
  expect(winner.body.did_number).toBe(did);
  return winner;
}

describe('concurrent writes', () => {
  it(`registers a DID once when ${CONCURRENCY} requests attach it to one tenant at the same time`, async () => {
    const tenant = await createTenant();
    const did = randomDid();

    const responses = await Promise.all(
      Array.from({ length: CONCURRENCY }, () => api('POST', `/api/tenants/${tenant.id}/phone-numbers`, { body: { did_number: did } })),
    );

    const winner = expectOneWinner(responses, did);
    expect(winner.body.tenant_id).toBe(tenant.id);
    expect(await rowsForDid(did)).toEqual([{ id: winner.body.id, tenant_id: tenant.id }]);
  });

  it(`registers a DID once when ${CONCURRENCY} tenants claim it at the same time, half in E.164 and half in national format`, async () => {
    const tenants = await Promise.all(Array.from({ length: CONCURRENCY }, () => createTenant()));
    const did = randomDid();

    const responses = await Promise.all(
      tenants.map((tenant, i) =>
        api('POST', `/api/tenants/${tenant.id}/phone-numbers`, { body: { did_number: i % 2 === 0 ? did : national(did) } }),
      ),
    );

    const winner = expectOneWinner(responses, did);
    const winnerIndex = responses.indexOf(winner);
    const winningTenant = tenants[winnerIndex]?.id;
    expect(winner.body.tenant_id).toBe(winningTenant);
    expect(await rowsForDid(did)).toEqual([{ id: winner.body.id, tenant_id: winningTenant }]);
    // The losers learn nothing about the winner.
    for (const loser of responses.filter((r) => r !== winner)) expect(loser.text).not.toContain(winningTenant);
  });

  it(`leaves exactly one default when ${CONCURRENCY} profiles of a tenant are made the default at the same time`, async () => {
    const tenant = await createTenant();
    const profiles = [];
    for (let i = 0; i < CONCURRENCY; i++) profiles.push(await createAiProfile(tenant.id, { name: `Profile ${i}`, is_default: i === 0 }));
    const ids = profiles.map((p) => p.id);

    const responses = await Promise.all(
      ids.map((id) => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${id}`, { body: { is_default: true } })),
    );

    const failures = responses.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`);
    expect(failures).toEqual([]);
    for (const [i, response] of responses.entries()) expect(response.body).toMatchObject({ id: ids[i], is_default: true });

    const { rows } = await sql<{ id: string }>('select id from ai_profiles where tenant_id = $1 and is_default', [tenant.id]);
    expect(rows).toHaveLength(1);
    expect(ids).toContain(rows[0]?.id);

    const list = await api('GET', `/api/tenants/${tenant.id}/ai-profiles?limit=100`);
    expect(list.body.data).toHaveLength(CONCURRENCY);
    expect(list.body.data.filter((p: { is_default: boolean }) => p.is_default).map((p: { id: string }) => p.id)).toEqual([rows[0]?.id]);
  });
});
