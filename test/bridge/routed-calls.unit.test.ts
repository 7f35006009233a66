// The bridge's memory of the calls it routed: what a media hand-off is checked against.
import { describe, expect, it } from 'vitest';
import { RoutedCalls } from '../../bridge/routed-calls.ts';

const route = (n: number) => ({
  call_record_id: `record-${n}`,
  tenant_id: `tenant-${n}`,
  phone_number_id: `number-${n}`,
  ai_profile_id: n % 2 ? `profile-${n}` : null,
  call_id: `1790000000.${n}`,
});

describe('RoutedCalls', () => {
  it('finds a routed call by its record id, with the route it was answered with', () => {
    const routes = new RoutedCalls();
    routes.remember(route(1));
    expect(routes.find('record-1')).toEqual(route(1));
    expect(routes.find('record-2')).toBeUndefined();
  });

  it('forgets a route after its time to live', () => {
    const routes = new RoutedCalls(10, 1_000);
    routes.remember(route(1), 0);
    expect(routes.find('record-1', 999)).toEqual(route(1));
    expect(routes.find('record-1', 1_000)).toBeUndefined();
    expect(routes.size).toBe(0);
  });

  it('keeps at most its bound, forgetting the oldest first; routing a call again makes it the newest', () => {
    const routes = new RoutedCalls(3, 60_000);
    for (const n of [1, 2, 3]) routes.remember(route(n), n);
    routes.remember(route(1), 4);
    routes.remember(route(4), 5);
    expect(routes.size).toBe(3);
    expect(routes.find('record-2', 6)).toBeUndefined();
    expect([1, 3, 4].map((n) => routes.find(`record-${n}`, 6)?.tenant_id)).toEqual(['tenant-1', 'tenant-3', 'tenant-4']);
  });

  it('drops expired routes as new ones arrive, so a quiet bridge does not keep them', () => {
    const routes = new RoutedCalls(100, 1_000);
    for (let n = 0; n < 50; n++) routes.remember(route(n), n);
    routes.remember(route(99), 5_000);
    expect(routes.size).toBe(1);
  });

  it('keeps its own copy of the route alone: changing the object it was given changes nothing', () => {
    const routes = new RoutedCalls();
    const given = { ...route(1), did: '+914040000001', answered_at: 0 };
    routes.remember(given);
    given.tenant_id = 'someone-else';
    expect(routes.find('record-1')).toEqual(route(1));
  });
});
