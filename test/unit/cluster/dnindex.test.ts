/** dnindex.properties: Mycat's format, strict reading, atomic writes that keep other keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config/index.js';
import { DnIndexError, javaDate, parseDnIndex, readDnIndex, resolveDnIndex, writeDnIndex, writeFileAtomic } from '../../../src/cluster/dnindex.js';

async function tmpDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'sluice-dnindex-'));
}

function expectCorrupt(file: string, writeHosts: number, re: RegExp): void {
  assert.throws(
    () => readDnIndex(file, 'dh1', writeHosts),
    (err: unknown) => {
      assert.ok(err instanceof DnIndexError, `DnIndexError, got ${String(err)}`);
      assert.ok(err instanceof ConfigError, 'a ConfigError, so main.ts reports it as such');
      assert.ok(err.message.includes(file), `names the file: ${err.message}`);
      assert.match(err.message, re);
      assert.match(err.errors[0] ?? '', re);
      return true;
    },
  );
}

test('round trip in Mycat format', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    const res = await writeDnIndex(file, 'dh1', 1);
    assert.equal(res.previous, undefined);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^#update\n#\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}\ndh1=1\n$/);
    assert.equal(readDnIndex(file, 'dh1', 2), 1);
    const again = await writeDnIndex(file, 'dh1', 0);
    assert.equal(again.previous, '1');
    assert.equal(readDnIndex(file, 'dh1', 2), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('reads the file Mycat ships (comments, timestamp)', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    await writeFile(file, '#update\n#Tue Oct 22 21:31:30 CST 2019\nlocalhost1=0\r\ndh1 = 1\n\n! another comment\n');
    assert.equal(readDnIndex(file, 'dh1', 2), 1);
    assert.equal(readDnIndex(file, 'localhost1', 1), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('other dataHosts keep their lines', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    await writeFile(file, '#update\n#Tue Oct 22 21:31:30 CST 2019\nlocalhost1=0\ndh1=0\nother=3\n');
    await writeDnIndex(file, 'dh1', 2);
    const { entries } = parseDnIndex(await readFile(file, 'utf8'));
    assert.deepEqual([...entries], [
      ['localhost1', '0'],
      ['dh1', '2'],
      ['other', '3'],
    ]);
    await writeDnIndex(file, 'dh2', 1);
    assert.equal(parseDnIndex(await readFile(file, 'utf8')).entries.get('dh2'), '1');
    assert.equal(readDnIndex(file, 'dh1', 3), 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('missing file or missing key → undefined', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    assert.equal(readDnIndex(file, 'dh1', 2), undefined);
    await writeFile(file, '#update\nother=1\n');
    assert.equal(readDnIndex(file, 'dh1', 2), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('corrupt files are refused with the file and the problem', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    await writeFile(file, '');
    expectCorrupt(file, 2, /empty/);
    await writeFile(file, '#update\ndh1=one\n');
    expectCorrupt(file, 2, /dh1="one" is not a non-negative integer/);
    await writeFile(file, '#update\ndh1=\n');
    expectCorrupt(file, 2, /not a non-negative integer/);
    await writeFile(file, '#update\ndh1=-1\n');
    expectCorrupt(file, 2, /not a non-negative integer/);
    await writeFile(file, '#update\ndh1=1.5\n');
    expectCorrupt(file, 2, /not a non-negative integer/);
    await writeFile(file, '#update\ndh1=2\n');
    expectCorrupt(file, 2, /dh1=2 is out of range: dataHost dh1 has 2 writeHosts \(valid: 0-1\)/);
    await writeFile(file, '#update\ngarbage line\ndh1=0\n');
    expectCorrupt(file, 2, /line 2: expected "<dataHost>=<index>"/);
    await writeFile(file, '\u0000\u0000\u0000');
    expectCorrupt(file, 2, /cannot parse/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a directory in place of the file is refused, not taken as missing', async () => {
  const dir = await tmpDir();
  try {
    expectCorrupt(dir, 2, /cannot read it/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('atomic write: readers never see a partial file; no temp file is left behind', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    // Many other keys so a non-atomic write would be observable.
    const others = Array.from({ length: 2000 }, (_, i) => `dh_other_${i}=${i % 7}`).join('\n');
    await writeFile(file, `#update\n${others}\ndh1=0\n`);
    let stop = false;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        const text = readFileSync(file, 'utf8');
        const { entries, problems } = parseDnIndex(text);
        assert.deepEqual(problems, []);
        assert.equal(entries.size, 2001, 'every line present in every read');
        assert.match(entries.get('dh1') ?? '', /^[0-2]$/);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 40; i++) await writeDnIndex(file, 'dh1', i % 3);
    stop = true;
    await reader;
    assert.ok(reads > 0);
    assert.deepEqual(await readdir(dir), ['dnindex.properties']);
    assert.equal(readDnIndex(file, 'dh1', 3), 39 % 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed write leaves the old file intact and no temp file', async () => {
  const dir = await tmpDir();
  try {
    // The target is a non-empty directory: reading it fails before anything is written.
    const target = path.join(dir, 'dnindex.properties');
    await writeFile(path.join(dir, 'keep'), 'x');
    await assert.rejects(writeDnIndex(dir, 'dh1', 1));
    assert.deepEqual((await readdir(dir)).sort(), ['keep']);
    // The rename fails (target is a directory that is not empty): the temp file is removed.
    await writeFile(target, '#update\ndh1=0\n');
    const sub = path.join(dir, 'sub');
    await mkdir(path.join(sub, 'inner'), { recursive: true });
    await assert.rejects(writeFileAtomic(sub, 'dh1=1\n'));
    assert.deepEqual((await readdir(dir)).sort(), ['dnindex.properties', 'keep', 'sub']);
    assert.equal(readDnIndex(target, 'dh1', 2), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('javaDate looks like java.util.Date#toString', () => {
  assert.equal(javaDate(new Date(Date.UTC(2019, 9, 22, 13, 31, 30))), 'Tue Oct 22 13:31:30 UTC 2019');
});

// ------------------------------------------------------------------------------ recorded address

const WH = (...ids: string[]) => ids.map((id) => ({ host: id.slice(0, id.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1'), port: Number(id.slice(id.lastIndexOf(':') + 1)) }));

test('the writer address is written next to the index and followed when the writeHosts list changed', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    await writeDnIndex(file, 'dh1', 1, '10.0.0.2:3306');
    assert.match(readFileSync(file, 'utf8'), /\ndh1=1\ndh1\.writeHost=10\.0\.0\.2:3306\n$/);
    // Same list: as recorded.
    assert.deepEqual(resolveDnIndex(file, 'dh1', WH('10.0.0.1:3306', '10.0.0.2:3306')), { index: 1, recordedIndex: 1, recordedAddress: '10.0.0.2:3306' });
    // writeHost 0 removed from the list: the recorded host is now index 0, not whatever is at 1.
    assert.deepEqual(resolveDnIndex(file, 'dh1', WH('10.0.0.2:3306', '10.0.0.3:3306')), { index: 0, recordedIndex: 1, recordedAddress: '10.0.0.2:3306' });
    // Reordered, and the index alone would be out of range.
    assert.equal(resolveDnIndex(file, 'dh1', WH('10.0.0.2:3306'))?.index, 0);
    // Spelled differently (case): the same host.
    await writeDnIndex(file, 'dh1', 0, 'DB1.example:3306');
    assert.equal(resolveDnIndex(file, 'dh1', WH('db1.example:3306', 'db2.example:3306'))?.index, 0);
    // IPv6, bracketed.
    await writeDnIndex(file, 'dh1', 1, '[fd00::2]:3306');
    assert.equal(resolveDnIndex(file, 'dh1', WH('[fd00::1]:3306', '[fd00::2]:3306'))?.index, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a recorded writer that is no longer a writeHost refuses the start, naming it and the list', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    await writeDnIndex(file, 'dh1', 1, '10.0.0.2:3306');
    assert.throws(
      () => resolveDnIndex(file, 'dh1', WH('10.0.0.1:3306', '10.0.0.3:3306')),
      (err: unknown) => {
        assert.ok(err instanceof DnIndexError);
        assert.match(err.message, /dh1=1 was written for writeHost 10\.0\.0\.2:3306, which is no longer among dataHost dh1's writeHosts \(0: 10\.0\.0\.1:3306, 1: 10\.0\.0\.3:3306\)/);
        assert.match(err.message, /will not guess which server is the master/);
        return true;
      },
    );
    await writeFile(file, 'dh1=1\ndh1.writeHost=not an address\n');
    expectCorruptResolve(file, /dh1\.writeHost="not an address" is not host:port/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file without the address (Mycat, older Sluice) is read by index, range-checked', async () => {
  const dir = await tmpDir();
  try {
    const file = path.join(dir, 'dnindex.properties');
    await writeFile(file, '#update\ndh1=1\n');
    assert.deepEqual(resolveDnIndex(file, 'dh1', WH('a:1', 'b:1')), { index: 1, recordedIndex: 1, recordedAddress: undefined });
    expectCorruptResolve(file, /dh1=1 is out of range/, WH('a:1'));
    assert.equal(resolveDnIndex(path.join(dir, 'missing'), 'dh1', WH('a:1')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function expectCorruptResolve(file: string, re: RegExp, writeHosts = WH('10.0.0.1:3306', '10.0.0.2:3306')): void {
  assert.throws(
    () => resolveDnIndex(file, 'dh1', writeHosts),
    (err: unknown) => err instanceof DnIndexError && re.test(err.message),
  );
}
