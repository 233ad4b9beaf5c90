// The calc face: pure functions from model resources to desired dataplane state, the
// incremental calculator the agent keeps, and `policy explain`. No I/O.
export * from './state.js';
export { computeDesiredState } from './compute.js';
export type { ComputeInput } from './compute.js';
export { createCalculator } from './incremental.js';
export type { Calculator } from './incremental.js';
export { explainFlow, formatExplanation, ExplainError } from './explain.js';
export type { ExplainInput, ExplainResult, Verdict, FlowEnd } from './explain.js';
export { setIdFor, protocolNumber } from './compile.js';
export { desiredBgp, desiredFilter, communitiesFor, parseAsNumber, type DesiredBgp, type DesiredBgpPeer, type DesiredFilter, type DesiredFilterRule } from './bgp.js';
export { explainIn, resourceView } from './explain.js';
export type { ExplainView, ExplainQuestion, EndpointRef, CompiledEndpoint, RuleLookup } from './explain.js';
export { createClusterView } from './cluster-view.js';
export type { CalculatorParts } from './incremental.js';
export { matrixIn, type MatrixQuestion } from './matrix.js';
export { applyStaged, changedCells, formatPreview, formatStagedChanges, previewStaged } from './staged.js';
export type { PreviewCell, StagedChange, StagedEffect, StagedPreview } from './staged.js';
export { defaultHostConfig, DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from './host-endpoints.js';
export type { HostConfig } from './host-endpoints.js';
export type { CalculatorOptions } from './incremental.js';
export { explainHostFlow, explainFromHost, explainToHost, formatHostVerdict, hostEndpointByRef, hostEndpointFor } from './host-explain.js';
export type { HostFlowQuery, HostFlowResult, HostVerdict } from './host-explain.js';
export type { Packet } from './explain.js';
export { endpointRefusals, claimedAddresses } from './claims.js';
export {
  computeVxlanState, vxlanPools, VXLAN_DEVICE, ROUTE_PROTO_VXLAN, DEFAULT_VXLAN_VNI, DEFAULT_VXLAN_PORT, VXLAN_OVERHEAD,
} from './vxlan.js';
export type { VxlanState, VxlanInput, VxlanSettings, VxlanRoute, Vtep, HostBlock } from './vxlan.js';
export { hostMatrixIn, type HostMatrix } from './host-matrix.js';
