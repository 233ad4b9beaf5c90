// /explain and /matrix: calc's explanation over the agent's incremental calculator (the
// compiled state the dataplane renders, not a recomputation per pair), the same evaluation
// and text as `trellisctl policy explain` (formatExplanation), so the API and the CLI agree.
import { ExplainError, explainIn, formatExplanation, matrixIn, type ExplainView, type FlowEnd } from '../calc/index.js';
import { isValidCidrOrIp } from '../model/index.js';
import { ApiInputError, type EndpointDoc, type ExplainQuery, type MatrixDoc } from '../api/index.js';

/** "tenant-a/web-1", "WorkloadEndpoint/tenant-a/web-1" -> "tenant-a/web-1". */
export function endpointRef(s: string): string {
  return s.replace(/^WorkloadEndpoint\//, '');
}

function fromEnd(s: string): FlowEnd {
  if (!s.includes('/') || /^[0-9a-fA-F:.]+\/\d+$/.test(s)) {
    if (isValidCidrOrIp(s)) return { cidr: s };
  }
  return { endpoint: endpointRef(s) };
}

export function explainForApi(view: ExplainView, q: ExplainQuery): { text: string; result: unknown } {
  try {
    const result = explainIn(view, {
      from: fromEnd(q.from), to: { endpoint: endpointRef(q.to) }, protocol: q.protocol ?? 'TCP',
      ...(q.port !== undefined ? { port: q.port } : {}),
    });
    return { text: formatExplanation(result), result };
  } catch (err) {
    if (err instanceof ExplainError) throw new ApiInputError(err.message);
    throw err;
  }
}

export function matrixFor(view: ExplainView, endpoints: EndpointDoc[], port: number, protocol: string): MatrixDoc {
  // A refused endpoint has nothing programmed: it is in no cell (explain refuses to evaluate it).
  const eps = endpoints.filter((e) => e.addresses.length > 0 && !e.refused);
  // An endpoint calc cannot evaluate is shown as denied: the dataplane fails closed too.
  const allowed = matrixIn(view, eps.map((e) => `${e.namespace}/${e.name}`), { protocol, port });
  return {
    port, protocol,
    endpoints: eps.map((e) => ({ id: e.id, tenant: e.tenant, node: e.node, address: (e.addresses[0] ?? '').replace(/\/\d+$/, '') })),
    allowed,
  };
}
