// Golden byte vectors written by hand from the RFC layouts (RFC 4271 4.x, 4760, 5492,
// 6793, 4724, 1997, 4456, 2918). Hex with spaces for reading; the marker is spelled out once.
export const MARKER = 'ff'.repeat(16);
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export const V = {
  keepalive: `${MARKER} 0013 04`,
  notificationCeaseAdminShutdown: `${MARKER} 0015 03 06 02`,
  notificationWithData: `${MARKER} 0017 03 01 02 0012`,
  routeRefreshIpv4: `${MARKER} 0017 05 0001 00 01`,
  routeRefreshIpv6: `${MARKER} 0017 05 0002 00 01`,
  // OPEN: v4, AS 65001, hold 90, id 10.0.0.1; caps: MP IPv4 unicast, route refresh, 4-octet AS 65001.
  open: `${MARKER} 0031 01 04 fde9 005a 0a000001 14
         02 06 01 04 0001 00 01
         02 02 02 00
         02 06 41 04 0000fde9`,
  // OPEN with AS_TRANS for AS 4200000000, graceful restart (R bit, 120 s, IPv4+IPv6 with F bit), IPv6 MP.
  openGr: `${MARKER} 003b 01 04 5ba0 00b4 0a000002 1e
         02 06 01 04 0002 00 01
         02 0c 40 0a 8078 0001 01 80 0002 01 80
         02 06 41 04 fa56ea00`,
  // UPDATE (4-octet AS): ORIGIN IGP, AS_PATH SEQ [65001], NEXT_HOP 10.0.0.1, NLRI 10.1.0.0/16.
  updateIpv4: `${MARKER} 002e 02 0000 0014
         40 01 01 00
         40 02 06 02 01 0000fde9
         40 03 04 0a000001
         10 0a01`,
  withdrawIpv4: `${MARKER} 001a 02 0003 10 0a01 0000`,
  eorIpv4: `${MARKER} 0017 02 0000 0000`,
  eorIpv6: `${MARKER} 001d 02 0000 0006 80 0f 03 0002 01`,
  // UPDATE (4-octet AS) IPv6: ORIGIN IGP, AS_PATH [65001], MP_REACH (extended length) fd00:1::/64 via fd00::1.
  updateIpv6: `${MARKER} 0046 02 0000 002f
         40 01 01 00
         40 02 06 02 01 0000fde9
         90 0e 001e 0002 01 10 fd000000000000000000000000000001 00 40 fd00000100000000`,
  withdrawIpv6: `${MARKER} 0027 02 0000 0010 90 0f 000c 0002 01 40 fd00000100000000`,
  // UPDATE on a 2-octet session: AS_PATH [65001, AS_TRANS] + AS4_PATH [65001, 4200000000], communities
  // 65000:100, LOCAL_PREF 200, MED 5, ORIGINATOR_ID 10.0.0.2, CLUSTER_LIST [10.0.0.99]; NLRI 192.168.0.0/24.
  updateAs4: `${MARKER} 005f 02 0000 0044
         40 01 01 02
         40 02 06 02 02 fde9 5ba0
         40 03 04 0a000001
         80 04 04 00000005
         40 05 04 000000c8
         c0 08 04 fde8 0064
         80 09 04 0a000002
         80 0a 04 0a000063
         c0 11 0a 02 02 0000fde9 fa56ea00
         18 c0a800`,
};
