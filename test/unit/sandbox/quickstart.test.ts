/** `sluice sandbox`: which ports it takes (defaults, --base-port, --port) and what its banner says. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortInUseError, SandboxUsageError, planSandboxPorts, sandboxBanner, type BannerInfo } from '../../../src/sandbox/index.js';

const busy = (...ports: number[]) => async (p: number): Promise<boolean> => !ports.includes(p);

test('without port options the defaults are used when free (the ports conf/sluice.yaml names)', async () => {
  const plan = await planSandboxPorts({ replicas: 2 }, busy());
  assert.deepEqual([plan.servers, plan.listen, plan.admin, plan.http, plan.moved], [3311, 8066, 9066, 9067, []]);
});

test('without port options a busy default is replaced by a free port, and reported', async () => {
  const plan = await planSandboxPorts({ replicas: 2 }, busy(3313, 8066));
  // servers are consecutive: one busy server port moves all three; 0 = picked by the OS
  assert.deepEqual([plan.servers, plan.listen, plan.admin, plan.http], [0, 0, 9066, 9067]);
  assert.deepEqual(plan.moved, [3313, 8066]);
});

test('--base-port N: servers from N, then proxy, admin, HTTP; a busy one names --base-port', async () => {
  const plan = await planSandboxPorts({ replicas: 2, basePort: 4000 }, busy());
  assert.deepEqual([plan.servers, plan.listen, plan.admin, plan.http, plan.moved], [4000, 4003, 4004, 4005, []]);
  for (const taken of [4001, 4003, 4005]) {
    await assert.rejects(planSandboxPorts({ replicas: 2, basePort: 4000 }, busy(taken)), (err: unknown) => {
      assert.ok(err instanceof PortInUseError);
      assert.equal(err.message, `port ${taken} is in use; pick another with --base-port`);
      return true;
    });
  }
});

test('--port names itself when busy, with or without --base-port', async () => {
  for (const basePort of [undefined, 0, 4000]) {
    await assert.rejects(
      planSandboxPorts({ replicas: 1, port: 8070, ...(basePort !== undefined ? { basePort } : {}) }, busy(8070)),
      { message: 'port 8070 is in use; pick another with --port' },
    );
  }
  const plan = await planSandboxPorts({ replicas: 1, port: 8070, basePort: 4000 }, busy());
  assert.deepEqual([plan.servers, plan.listen, plan.admin, plan.http], [4000, 8070, 4003, 4004]);
});

test('--base-port 0: every port picked by the OS, nothing probed', async () => {
  const plan = await planSandboxPorts({ replicas: 2, basePort: 0 }, async () => assert.fail('no probe expected'));
  assert.deepEqual([plan.servers, plan.listen, plan.admin, plan.http], [0, 0, 0, 0]);
});

test('--base-port too high for all the ports is refused in a sentence', async () => {
  await assert.rejects(planSandboxPorts({ replicas: 2, basePort: 65533 }, busy()), (err: unknown) => {
    assert.ok(err instanceof SandboxUsageError);
    assert.match(err.message, /^--base-port 65533 leaves no room for 6 ports/);
    return true;
  });
});

const info: BannerInfo = {
  kind: 'mariadb',
  version: '10.11.6-MariaDB-log',
  dir: '/tmp/sluice-sandbox-x',
  primary: { name: 'primary', host: '127.0.0.1', port: 3311, serverId: 1 },
  replicas: [
    { name: 'replica1', host: '127.0.0.1', port: 3312, serverId: 2 },
    { name: 'replica2', host: '127.0.0.1', port: 3313, serverId: 3 },
  ],
  user: 'app',
  password: 'app',
  database: 'sluice_test',
  proxy: { host: '127.0.0.1', port: 8066 },
  admin: { host: '127.0.0.1', port: 9066, user: 'admin', password: 's3cret' },
  http: { host: '127.0.0.1', port: 9067 },
  moved: [],
};

test('the banner: connect line, then admin line with commands, status page, metrics, how to stop', () => {
  const lines = sandboxBanner(info).split('\n');
  const at = (re: RegExp): number => {
    const i = lines.findIndex((l) => re.test(l));
    assert.notEqual(i, -1, `${re} in:\n${lines.join('\n')}`);
    return i;
  };
  const connect = at(/^Connect: +mysql -h 127\.0\.0\.1 -P 8066 -u app -papp sluice_test$/);
  const admin = at(/^Admin: +mysql -h 127\.0\.0\.1 -P 9066 -u admin -ps3cret$/);
  const commands = at(/SELECT \* FROM backends;.*SHOW @@HEARTBEAT;/);
  const status = at(/^Status: +http:\/\/127\.0\.0\.1:9067\/$/);
  const metrics = at(/^Metrics: +http:\/\/127\.0\.0\.1:9067\/metrics\b/);
  const stop = at(/^Stop: +Ctrl-C stops everything and removes \/tmp\/sluice-sandbox-x$/);
  assert.ok(connect < admin && admin < commands && commands < status && status < metrics && metrics < stop);
  assert.ok(!sandboxBanner(info).includes('in use'), 'no note about moved ports when none moved');
});

test('the banner says which default ports were busy', () => {
  assert.match(sandboxBanner({ ...info, moved: [8066] }), /Port 8066 was in use, so free ports were taken/);
  assert.match(sandboxBanner({ ...info, moved: [3311, 9067] }), /Ports 3311, 9067 were in use/);
});
