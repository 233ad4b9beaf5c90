// IPReservations (Calico's kind): addresses inside pools that IPAM never hands out, for
// a gateway, a VIP or a range someone else manages. An allocation already holding a
// reserved address keeps it (as in Calico): a reservation only stops new hand-outs.
import type { IPReservation, IpFamily } from '../model/index.js';
import { netContains, netSize, parseNet, type Net } from './addr.js';
import type { IpamStore } from './store.js';

export interface Reservation { name: string; cidr: string; net: Net }

export async function loadReservations(store: IpamStore): Promise<Reservation[]> {
  const out: Reservation[] = [];
  for (const s of await store.list('IPReservation')) {
    if (s.resource.kind !== 'IPReservation') continue;
    const r = s.resource as IPReservation;
    for (const cidr of r.spec.reservedCIDRs ?? []) out.push({ name: r.metadata.name, cidr, net: parseNet(cidr) });
  }
  return out;
}

/** The reservation holding this address, if any. */
export function reservationOf(res: readonly Reservation[], family: IpFamily, v: bigint): Reservation | undefined {
  return res.find((r) => netContains(r.net, family, v));
}

/** The reservations that overlap a block (a cheap pre-filter before testing each ordinal). */
export function overlapping(res: readonly Reservation[], block: Net): Reservation[] {
  return res.filter((r) => {
    if (r.net.family !== block.family) return false;
    const rEnd = r.net.base + netSize(r.net);
    const bEnd = block.base + netSize(block);
    return r.net.base < bEnd && block.base < rEnd;
  });
}
