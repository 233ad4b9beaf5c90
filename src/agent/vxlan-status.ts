// calc's VxlanState as /status shows it.
import type { VxlanState } from '../calc/index.js';
import type { VxlanStatusDoc } from '../api/index.js';

export function vxlanStatus(s: VxlanState): VxlanStatusDoc {
  const d = s.device;
  return {
    device: d ? { node: d.node, address: d.address, tunnelAddr: d.tunnelAddr, mac: d.mac, vni: d.vni, port: d.port } : null,
    vteps: s.vteps.map((v) => ({ ...v })),
    routes: s.routes.map((r) => ({ dst: r.dst, node: r.node, via: r.via, mode: r.encap ? 'vxlan' : 'native' })),
    problems: [...s.problems],
  };
}
