// Names every layer agrees on for VXLAN (calc plans it, the dataplane makes it, the workload attach path reads its MTU).
/** The VXLAN device. Not "trl…": the policy dispatch drops traffic of unknown `trl+` interfaces. */
export const VXLAN_DEVICE = 'vxlan.trl';
