// trellisctl's exit-code contract, class by class: scripts read 1 as "the store said no"
// and 2 as "fix your input". Errors are matched by class (instanceof), not by name, so a
// subclass or a renamed class still maps the same way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliError, EXIT, describeError } from '../../src/cli/index.js';
import { ConfigError } from '../../src/config/index.js';
import { ExplainError } from '../../src/calc/index.js';
import { IpamError } from '../../src/ipam/index.js';
import { parseSelector, ResourceFileError, SelectorError, TrellisError } from '../../src/model/index.js';
import { StoreError, type StoreErrorCode } from '../../src/store/index.js';
import { ApiConfigError, ApiInputError } from '../../src/api/index.js';
import { BgpConfigError, BgpError } from '../../src/bgp/index.js';
import { DataplaneError } from '../../src/dataplane/index.js';
import { NetlinkError } from '../../src/workload/index.js';

function selectorError(): SelectorError {
  try { parseSelector('app ==='); } catch (e) { if (e instanceof SelectorError) return e; throw e; }
  throw new Error('parseSelector accepted "app ===": the test needs a SelectorError');
}

test('store refusals exit 1, an invalid value exits 2', () => {
  const want: Record<StoreErrorCode, number> = { CONFLICT: EXIT.REFUSED, NOT_FOUND: EXIT.REFUSED, ALREADY_EXISTS: EXIT.REFUSED, UNAVAILABLE: EXIT.REFUSED, INVALID: EXIT.BAD_INPUT };
  for (const [code, exit] of Object.entries(want) as Array<[StoreErrorCode, number]>) {
    const d = describeError(new StoreError(code, `store said ${code}`));
    assert.is(d.exitCode, exit, `StoreError ${code} exits ${exit}`);
    assert.is(d.message, `store said ${code}`, `StoreError ${code} keeps its message`);
  }
});

test('bad input of every kind exits 2 with its own message', () => {
  const cases: Array<[string, Error]> = [
    ['ConfigError', new ConfigError('etcdEndpoints', 'trellisd.yaml', 'must be a URL')],
    ['ResourceFileError', new ResourceFileError([{ source: 'a.yaml', path: 'spec', message: 'is required' }])],
    ['SelectorError', selectorError()],
    ['IpamError', new IpamError('INVALID_REQUEST', 'node name "X" is not a valid host name')],
    ['ExplainError', new ExplainError('unknown protocol "gre"')],
    ['a plain Error', new Error('something else')],
  ];
  for (const [what, err] of cases) {
    const d = describeError(err);
    assert.is(d.exitCode, EXIT.BAD_INPUT, `${what} exits 2`);
    assert.is(d.message, err.message, `${what} keeps its message`);
  }
  assert.is(describeError('a string').message, 'a string', 'a thrown non-Error is shown as text');
});

test('a CliError carries its own exit code; a StoreError subclass is still a StoreError', () => {
  assert.is(describeError(new CliError(EXIT.REFUSED, 'no')).exitCode, EXIT.REFUSED, 'CliError REFUSED');
  class RetryableStoreError extends StoreError {}
  const sub = new RetryableStoreError('CONFLICT', 'retry');
  assert.is(describeError(sub).exitCode, EXIT.REFUSED, 'matched by instanceof, not by name');
  assert.is(sub.name, 'RetryableStoreError', 'name follows the class');
  assert.ok(sub instanceof TrellisError, 'every typed error is a TrellisError');
});

test('every typed error of every face is a TrellisError with a code', () => {
  const errors: Array<[string, TrellisError<string | number>]> = [
    ['CliError', new CliError(EXIT.BAD_INPUT, 'x')], ['ConfigError', new ConfigError(null, 'f', 'x')],
    ['ExplainError', new ExplainError('x')], ['IpamError', new IpamError('NO_POOL', 'x')],
    ['ResourceFileError', new ResourceFileError([])], ['SelectorError', selectorError()], ['StoreError', new StoreError('INVALID', 'x')],
    ['DataplaneError', new DataplaneError('EXEC_FAILED', 'x')], ['NetlinkError', new NetlinkError('veth', 'exists')],
    ['BgpError', new BgpError(3, 1, 'x')], ['BgpConfigError', new BgpConfigError('INVALID_CONFIG', 'x')],
    ['ApiConfigError', new ApiConfigError('x')], ['ApiInputError', new ApiInputError('x')],
  ];
  for (const [name, e] of errors) {
    assert.ok(e instanceof TrellisError, `${name} extends TrellisError`);
    assert.is(e.name, name, `${name} names itself`);
    assert.ok(e.code !== undefined && e.code !== '', `${name} has a code`);
  }
});

test.run();
