// The device binding a worker's `init --owner` prints: the device key's EIP-712 DeviceBinding(device, owner, deadline)
// signature that lets `owner` register the device. Accepts init's `key: value` lines as printed, or JSON.
import { getAddress, isAddress, type Address, type Hex } from "viem";

export interface DeviceBinding {
  device: Address;
  owner?: Address;
  deadline: bigint;
  signature: Hex;
  endpoint?: string;
}

export function parseBinding(text: string): { ok: true; binding: DeviceBinding } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = parseLines(text);
    if (!raw) return { ok: false, reason: "Paste what the worker's `init --owner <your address>` printed (device, deadline, bindingSignature)." };
  }
  if (!raw || typeof raw !== "object") return { ok: false, reason: "The binding must be a JSON object." };
  const o = (raw as { binding?: unknown }).binding && typeof (raw as { binding?: unknown }).binding === "object" ? { ...(raw as Record<string, unknown>), ...((raw as { binding: Record<string, unknown> }).binding) } : (raw as Record<string, unknown>);
  const given = [o.device, o.deviceAddress, o.address].find((v) => v !== undefined);
  const device = [o.device, o.deviceAddress, o.address].find((v) => typeof v === "string" && isAddress(v)) as string | undefined;
  if (!device) {
    if (given !== undefined) return { ok: false, reason: `device ${JSON.stringify(given)} is not an address: 40 hex digits after 0x.` };
    return { ok: false, reason: 'The binding has no device address ("device").' };
  }
  if (o.owner !== undefined && !(typeof o.owner === "string" && isAddress(o.owner))) {
    return { ok: false, reason: `owner ${JSON.stringify(o.owner)} is not an address: 40 hex digits after 0x.` };
  }
  const owner = typeof o.owner === "string" ? getAddress(o.owner) : undefined;
  const sig = [o.signature, o.bindingSignature, o.sig].find((v) => typeof v === "string" && /^0x[0-9a-fA-F]{130}$/.test(v)) as Hex | undefined;
  if (!sig) return { ok: false, reason: 'The binding has no 65-byte signature ("signature").' };
  const d = o.deadline;
  if (!(typeof d === "number" || (typeof d === "string" && /^[0-9]+$/.test(d)))) return { ok: false, reason: 'The binding has no deadline ("deadline", unix seconds).' };
  const endpoint = typeof o.endpoint === "string" ? o.endpoint : undefined;
  return { ok: true, binding: { device: getAddress(device), owner, deadline: BigInt(d), signature: sig, endpoint } };
}

/** `key: value` lines, as `worker/cli.ts init` prints them; undefined when there are none. */
function parseLines(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*[:=]\s*(\S+)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return Object.keys(out).length ? out : undefined;
}
