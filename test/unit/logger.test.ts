/** Log format: JSON unless a person is watching (or it is forced), one readable line when pretty. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ConfigError } from '../../src/config/index.js';
import { createLogger, resolveLogFormat } from '../../src/logger.js';

test('auto: pretty only when stderr is a terminal; the setting and SLUICE_LOG_FORMAT force it', () => {
  assert.equal(resolveLogFormat('auto', {}, false), 'json');
  assert.equal(resolveLogFormat('auto', {}, true), 'pretty');
  assert.equal(resolveLogFormat('json', {}, true), 'json');
  assert.equal(resolveLogFormat('pretty', {}, false), 'pretty');
  assert.equal(resolveLogFormat('auto', { SLUICE_LOG_FORMAT: 'pretty' }, false), 'pretty');
  assert.equal(resolveLogFormat('pretty', { SLUICE_LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(resolveLogFormat('json', { SLUICE_LOG_FORMAT: 'auto' }, true), 'pretty');
  assert.equal(resolveLogFormat('json', { SLUICE_LOG_FORMAT: '' }, true), 'json', 'empty = unset');
  assert.throws(() => resolveLogFormat('auto', { SLUICE_LOG_FORMAT: 'yaml' }, false), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.errors, ['SLUICE_LOG_FORMAT: must be json, pretty or auto, got "yaml"']);
    return true;
  });
});

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => out };
}

test('json: one JSON object per line, component once, passwords redacted', () => {
  const c = capture();
  const log = createLogger('info', c.stream as never, 'json');
  log.child({ component: 'monitor' }).info({ password: 'x', host: 'h:1' }, 'backend state change');
  const line = c.text().trim();
  const rec = JSON.parse(line) as Record<string, unknown>;
  assert.equal(rec['msg'], 'backend state change');
  assert.equal(rec['password'], '***');
  assert.equal(line.match(/"component":/g)?.length, 1);
});

test('pretty: one readable line per record, component in front of the message', async () => {
  const c = capture();
  const log = createLogger('info', c.stream as never, 'pretty');
  log.child({ component: 'monitor' }).info({ host: 'h:1', password: 'x' }, 'backend state change');
  log.info('sluice listening');
  await new Promise((r) => setImmediate(r));
  const lines = c.text().trimEnd().split('\n');
  assert.equal(lines.length, 2, c.text());
  assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: monitor: backend state change \{"host":"h:1","password":"\*\*\*"\}$/);
  assert.match(lines[1]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: sluice listening$/);
  assert.doesNotMatch(c.text(), /\x1b\[/, 'no colour codes outside a terminal');
});
