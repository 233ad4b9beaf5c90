import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestEtcd } from './helpers/etcd.js';

test('a test etcd starts on loopback and answers /health', async () => {
  const etcd = await startTestEtcd();
  try {
    const res = await fetch(`${etcd.endpoints[0]}/health`);
    assert.ok(res.ok, 'etcd /health answers 200');
  } finally {
    await etcd.stop();
  }
});

test.run();
