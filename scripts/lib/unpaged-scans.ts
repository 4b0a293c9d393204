// The dashboard must hold no unpaged event scan: a single eth_getLogs from the deployment block to the head is refused
// by public providers and grows without bound. Scans go through protocol/paged-logs.ts (bounded ranges) or the indexer.
// This lists every direct log call in a source tree so a test (test/integration/dashboard-scans.test.ts) can hold the line.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Calls that fetch logs in one request: viem's getLogs / getContractEvents / getFilterLogs and raw eth_getLogs. */
const DIRECT = /\.(getLogs|getContractEvents|getFilterLogs)\s*\(|["'`]eth_getLogs["'`]|\bgetContractEvents\s*\(\s*\w+\s*,/g;

export interface DirectScan {
  file: string;
  line: number;
  text: string;
}

/** Direct log calls in `source` (1-based lines). */
export function directScansOf(file: string, source: string): DirectScan[] {
  const out: DirectScan[] = [];
  source.split("\n").forEach((text, i) => {
    if (text.trim().startsWith("//") || text.trim().startsWith("*")) return;
    DIRECT.lastIndex = 0;
    if (DIRECT.test(text)) out.push({ file, line: i + 1, text: text.trim() });
  });
  return out;
}

/** Direct log calls in every .ts/.tsx/.js/.mjs file under `dir` (node_modules and .next skipped). */
export function directScans(dir: string): DirectScan[] {
  const out: DirectScan[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === ".next") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...directScans(full));
    else if (/\.(m?tsx?|m?jsx?)$/.test(entry.name)) out.push(...directScansOf(full, readFileSync(full, "utf8")));
  }
  return out;
}
