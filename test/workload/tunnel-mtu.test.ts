// The workload side of the VXLAN MTU: with no MTU configured, a container's veth takes the
// VXLAN device's MTU when the host has one, and the kernel default otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tunnelMtu } from '../../src/workload/index.js';

test('the VXLAN device\'s MTU when it exists, none otherwise or when unreadable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trl-vx-sys-'));
  try {
    assert.is(tunnelMtu(dir), undefined, 'no device: no MTU (the kernel default)');
    mkdirSync(join(dir, 'vxlan.trl'));
    writeFileSync(join(dir, 'vxlan.trl', 'mtu'), '1350\n');
    assert.is(tunnelMtu(dir), 1350, 'the device\'s MTU');
    writeFileSync(join(dir, 'vxlan.trl', 'mtu'), 'garbage');
    assert.is(tunnelMtu(dir), undefined, 'an unreadable value is ignored');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
