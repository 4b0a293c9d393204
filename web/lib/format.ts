import { formatUnits, parseUnits, type Hex } from "viem";

/** Token amount with its decimals and symbol, trailing zeros trimmed ("1.25 tUSDC"). */
export function formatAmount(value: bigint, decimals: number, symbol?: string): string {
  const s = formatUnits(value, decimals);
  const [whole = "0", frac = ""] = s.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const text = frac ? `${grouped}.${frac}` : grouped;
  return symbol ? `${text} ${symbol}` : text;
}

/** Parses what a person typed into token units; undefined when it is not a non-negative decimal. */
export function parseAmount(text: string, decimals: number): bigint | undefined {
  const t = text.trim();
  if (!/^[0-9]+(\.[0-9]*)?$/.test(t)) return undefined;
  const [, frac = ""] = t.split(".");
  if (frac.length > decimals) return undefined;
  try {
    return parseUnits(t, decimals);
  } catch {
    return undefined;
  }
}

export function shortHex(hex: string, head = 6, tail = 4): string {
  return hex.length <= head + tail + 2 ? hex : `${hex.slice(0, head + 2)}…${hex.slice(-tail)}`;
}

export function formatBps(bps: number): string {
  return `${(bps / 100).toFixed(bps % 100 === 0 ? 0 : 2)}%`;
}

export function formatDuration(seconds: number): string {
  if (seconds <= 0) return "0 s";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s} s`;
  return `${s} s`;
}

export function formatTime(unixSeconds: number | bigint): string {
  return new Date(Number(unixSeconds) * 1000).toLocaleString();
}

export function isHex32(s: string): s is Hex {
  return /^0x[0-9a-fA-F]{64}$/.test(s);
}
