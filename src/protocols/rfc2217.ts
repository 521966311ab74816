// RFC 2217 COM-PORT-OPTION: command codes and the wire form of line settings.
import type { LineSettings } from '../core/link.js';

/** Client-to-server command codes; the server answers with code + 100. */
export const CPO = {
  SIGNATURE: 0,
  SET_BAUDRATE: 1,
  SET_DATASIZE: 2,
  SET_PARITY: 3,
  SET_STOPSIZE: 4,
  SET_CONTROL: 5,
  NOTIFY_LINESTATE: 6,
  NOTIFY_MODEMSTATE: 7,
  FLOWCONTROL_SUSPEND: 8,
  FLOWCONTROL_RESUME: 9,
  SET_LINESTATE_MASK: 10,
  SET_MODEMSTATE_MASK: 11,
  PURGE_DATA: 12,
} as const;
export const SERVER = 100;

/** SET-CONTROL values. */
export const CTL = {
  FLOW_REQUEST: 0,
  FLOW_NONE: 1,
  FLOW_XONXOFF: 2,
  FLOW_HARDWARE: 3,
  BREAK_REQUEST: 4,
  BREAK_ON: 5,
  BREAK_OFF: 6,
  DTR_REQUEST: 7,
  DTR_ON: 8,
  DTR_OFF: 9,
  RTS_REQUEST: 10,
  RTS_ON: 11,
  RTS_OFF: 12,
  INFLOW_REQUEST: 13,
  INFLOW_NONE: 14,
  INFLOW_XONXOFF: 15,
  INFLOW_HARDWARE: 16,
} as const;

const PARITY: LineSettings['parity'][] = ['none', 'odd', 'even', 'mark', 'space']; // wire 1..5
const STOP: Record<number, LineSettings['stopBits']> = { 1: 1, 2: 2, 3: 1.5 };

/** The field of LineSettings a SET-* command changes (flow travels in SET-CONTROL). */
export type LineKey = Exclude<keyof LineSettings, 'flow'>;
export const LINE_COMMANDS: Record<number, LineKey> = {
  [CPO.SET_BAUDRATE]: 'baud',
  [CPO.SET_DATASIZE]: 'dataBits',
  [CPO.SET_PARITY]: 'parity',
  [CPO.SET_STOPSIZE]: 'stopBits',
};

type Flow = NonNullable<LineSettings['flow']>;
const FLOW_OUT: Record<Flow, number> = { none: CTL.FLOW_NONE, xonxoff: CTL.FLOW_XONXOFF, rtscts: CTL.FLOW_HARDWARE };
const FLOW_IN: Record<Flow, number> = { none: CTL.INFLOW_NONE, xonxoff: CTL.INFLOW_XONXOFF, rtscts: CTL.INFLOW_HARDWARE };

/** The SET-CONTROL value for a flow control, outbound (1-3) or inbound (14-16). */
export function flowControlValue(flow: Flow, inbound: boolean): number {
  return (inbound ? FLOW_IN : FLOW_OUT)[flow];
}

/**
 * The flow control a SET-CONTROL value asks for or reports: undefined for a request (0, 13)
 * or a kind Linux has no setting for (DCD, DTR, DSR inbound).
 */
export function flowOfControl(v: number): Flow | undefined {
  for (const table of [FLOW_OUT, FLOW_IN]) {
    const hit = (Object.keys(table) as Flow[]).find((k) => table[k] === v);
    if (hit) return hit;
  }
  return undefined;
}

/** Which answers of the shared SET-CONTROL command a value belongs to: flow, break, dtr, rts, inflow. */
export function controlGroup(v: number): string {
  return v <= CTL.FLOW_HARDWARE ? 'flow' : v <= CTL.BREAK_OFF ? 'break' : v <= CTL.DTR_OFF ? 'dtr' : v <= CTL.RTS_OFF ? 'rts' : 'inflow';
}

/** Decodes a SET-BAUDRATE/DATASIZE/PARITY/STOPSIZE value; undefined means "tell me the current one" (0) or unknown. */
export function decodeLineValue(key: LineKey, data: Buffer): LineSettings[LineKey] | undefined {
  if (key === 'baud') {
    if (data.length < 4) return undefined;
    const v = data.readUInt32BE(0);
    return v === 0 ? undefined : v;
  }
  const v = data[0] ?? 0;
  if (key === 'dataBits') return v >= 5 && v <= 8 ? (v as LineSettings['dataBits']) : undefined;
  if (key === 'parity') return PARITY[v - 1];
  return STOP[v];
}

/** Encodes one line setting as its RFC 2217 value bytes. */
export function encodeLineValue(key: LineKey, value: LineSettings[LineKey] | undefined): Buffer {
  if (key === 'baud') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(typeof value === 'number' ? value : 0);
    return b;
  }
  if (value === undefined) return Buffer.of(0);
  if (key === 'dataBits') return Buffer.of(value as number);
  if (key === 'parity') return Buffer.of(PARITY.indexOf(value as LineSettings['parity']) + 1);
  const stop = Number(Object.entries(STOP).find(([, s]) => s === value)?.[0] ?? 0);
  return Buffer.of(stop);
}
