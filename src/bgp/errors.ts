// Every decoding or protocol failure is a BgpError carrying the NOTIFICATION it maps to
// (RFC 4271 section 4.5 codes, RFC 5492 / 6608 / 4486 / 7313 subcodes), so a session
// can answer any malformed input with the right NOTIFICATION and nothing else escapes.
import { TrellisError } from '../model/index.js';

export const ErrorCode = {
  MessageHeader: 1,
  OpenMessage: 2,
  UpdateMessage: 3,
  HoldTimerExpired: 4,
  Fsm: 5,
  Cease: 6,
  RouteRefresh: 7,
} as const;

export const HeaderSub = { NotSynchronized: 1, BadLength: 2, BadType: 3 } as const;
export const OpenSub = {
  UnsupportedVersion: 1, BadPeerAs: 2, BadBgpIdentifier: 3, UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6, UnsupportedCapability: 7,
} as const;
export const UpdateSub = {
  MalformedAttributeList: 1, UnrecognizedWellKnown: 2, MissingWellKnown: 3, AttributeFlags: 4,
  AttributeLength: 5, InvalidOrigin: 6, InvalidNextHop: 8, OptionalAttribute: 9, InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;
export const FsmSub = { Unspecified: 0, InOpenSent: 1, InOpenConfirm: 2, InEstablished: 3 } as const;
export const CeaseSub = {
  MaxPrefixes: 1, AdministrativeShutdown: 2, PeerDeconfigured: 3, AdministrativeReset: 4,
  ConnectionRejected: 5, OtherConfigurationChange: 6, ConnectionCollision: 7, OutOfResources: 8,
} as const;
export const RouteRefreshSub = { InvalidLength: 1 } as const;

/** Highest subcode defined per error code: anything else is not a NOTIFICATION we can send. */
const MAX_SUBCODE: Record<number, number> = { 1: 3, 2: 7, 3: 11, 4: 0, 5: 3, 6: 8, 7: 1 };

/** code and subcode are the NOTIFICATION's (RFC 4271 4.5), data its data field. */
export class BgpError extends TrellisError<number> {
  constructor(code: number, readonly subcode: number, message: string, readonly data: Buffer = Buffer.alloc(0)) {
    super(code, message);
  }
}

export function isValidNotification(code: number, subcode: number): boolean {
  const max = MAX_SUBCODE[code];
  return max !== undefined && subcode >= 0 && subcode <= max;
}

const CODE_NAMES: Record<number, string> = {
  1: 'Message Header Error', 2: 'OPEN Message Error', 3: 'UPDATE Message Error', 4: 'Hold Timer Expired',
  5: 'Finite State Machine Error', 6: 'Cease', 7: 'ROUTE-REFRESH Message Error',
};

/** "UPDATE Message Error/5" style text for logs and status. */
export function describeNotification(code: number, subcode: number): string {
  return `${CODE_NAMES[code] ?? `code ${code}`}/${subcode}`;
}

/** Raised when a peer's configuration cannot be honoured (e.g. TCP MD5). */
export class BgpConfigError extends TrellisError<'MD5_UNSUPPORTED' | 'INVALID_CONFIG'> {}
