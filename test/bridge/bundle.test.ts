// What ships to the PBX host: one file, run with plain node, no node_modules next to it.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { buildBridge } from '../../tools/build-bridge.ts';
import { freePort } from '../../tools/free-port.ts';
import { createPhoneNumber, createTenant } from '../support/api.ts';
import { uriEncode } from '../support/asterisk-dialplan.ts';
import { dialWebSocket } from '../support/asterisk-media.ts';
import { bridgeEnv, waitFor, workerRoutingVersion } from '../support/bridge.ts';

describe('the bundled bridge', () => {
  it('runs from a folder with nothing else in it, routes a call and takes media connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vca-bundle-'));
    const bundle = join(dir, 'vca-bridge.mjs');
    await buildBridge(bundle);

    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const port = await freePort();
    const child = spawn(process.execPath, [bundle], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
        ...bridgeEnv(inject('workerUrl')),
        BRIDGE_LISTEN: `127.0.0.1:${port}`,
      },
      stdio: 'ignore',
    });
    try {
      await waitFor(
        'the bundled bridge',
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          ),
        15_000,
      );
      // The routing table has the new number.
      const version = await workerRoutingVersion(inject('workerUrl'));
      await waitFor('the routing table', async () => {
        const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { routes: { version: number | null } };
        return (health.routes.version ?? -1) >= version;
      });
      const response = await fetch(`http://127.0.0.1:${port}/inbound`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `caller_number=${uriEncode('+14155550100')}&called_number=${uriEncode(number.did_number)}&call_id=bundle.${Date.now()}&timestamp=1790000000`,
      });
      const answer = new URLSearchParams(await response.text());
      expect(answer.get('status')).toBe('success');
      expect(answer.get('tenant_id')).toBe(tenant.id);

      // ws is in the bundle, without its optional native modules: a media connection for a call
      // this bridge never routed is taken and hung up.
      const call = await dialWebSocket({
        uri: `ws://127.0.0.1:${port}/media`,
        channelVariables: { VCA_CALL_RECORD_ID: crypto.randomUUID(), VCA_CALL_ID: 'bundle.1', VCA_TENANT_ID: tenant.id },
      });
      expect(await call.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'NOANSWER' });
      expect(call.textReceived).toEqual(['{"command":"HANGUP"}']);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
