// The ipset + iptables backend's face: the backend itself, and the iptables text it renders
// (chain and set names, table specs, restore text) for tests, benchmarks and tools that
// look at iptables itself. Nothing outside the dataplane needs it to run a dataplane.
export { createIptablesBackend, createIptablesMemo, planIptables, readIptables, tableKey } from './backend.js';
export type { IptablesMemo, IptablesSnapshot } from './backend.js';
export { createRenderMemo, renderIptables, renderRestore, renderFullRestore, renderSetRefs } from './render.js';
export type { TableSpec, ChainSpec, RenderedIptables, RenderMemo, Table, TableWrite } from './render.js';
export { createSetSplitMemo, parseIpsetSave, planSets, renderSets, renderSetsRestore } from './ipsets.js';
export type { KernelSet, SetPlan, SetSplitMemo } from './ipsets.js';
export { parseIptablesSave, parseIptablesSaveAll, planTable } from './kernel.js';
export type { KernelTable, KernelChain } from './kernel.js';
export { addressDispatch, interfaceDispatch, verdictDispatch } from './dispatch.js';
export {
  DISPATCH, FROM_WL_DISPATCH, TO_WL_DISPATCH, VERDICT_DISPATCH, WORKLOAD_IFACE_PREFIX, MARK_ACCEPT, MARK_PASS,
  fromWlChain, toWlChain, policyChain, policyGroupChain, profileChain, setName, verdictChain, verdictId,
} from './names.js';
