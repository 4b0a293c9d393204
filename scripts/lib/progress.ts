// Progress lines shared by `npm start` and `npm run demo`: "  ✓ part       what happened".
const tty = process.stdout.isTTY === true;

export const paint = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = (s: string) => paint("1", s);

/** Seconds since `since` (ms timestamp), one decimal. */
export const secs = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

export function step(mark: "ok" | "run" | "fail" | "info", part: string, text: string) {
  const symbol = { ok: paint("32", "✓"), run: paint("36", "…"), fail: paint("31", "✗"), info: " " }[mark];
  console.log(`  ${symbol} ${part.padEnd(10)} ${text}`);
}

/** Token units of a 6-decimal token as a decimal string without trailing zeros ("0.001"). */
export function fmtUsdc(units: bigint): string {
  const whole = units / 1_000_000n;
  const frac = (units % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole.toString();
}
