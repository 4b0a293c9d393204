// The operator's settings, from flags or environment (flags win). Budget caps are required: an agent is never
// handed an uncapped wallet by accident.
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { BudgetCaps } from "./budget.ts";

export const USAGE = `usage: npm run mcp -- [options]

  --max-per-call N   EDGEPAY_MCP_MAX_PER_CALL   most one tool call may spend (token base units)   required
  --max-per-hour N   EDGEPAY_MCP_MAX_PER_HOUR   most spent in any rolling hour                     required
  --max-total N      EDGEPAY_MCP_MAX_TOTAL      most ever spent (kept in the store across restarts) required
  --deposit N        EDGEPAY_MCP_DEPOSIT        deposit of a channel opened when none has credit (default: never open)
  --files-dir DIR    EDGEPAY_MCP_FILES_DIR      \`file\` paths an agent gives must lie inside DIR (default: any readable file)
  --http PORT        EDGEPAY_MCP_HTTP_PORT      serve streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio
  EDGEPAY_BUYER_KEY, EDGEPAY_RPC_URL, EDGEPAY_PAYMENT_CHANNELS, EDGEPAY_BUYER_HOME: as for \`npm run buyer\``;

export interface McpConfig {
  caps: BudgetCaps;
  deposit?: bigint;
  httpPort?: number;
  filesDir?: string;
  rpcUrl: string;
  paymentChannels?: string;
  buyerKey?: string;
  home: string;
}

export function readConfig(argv: string[], env: NodeJS.ProcessEnv): McpConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      "max-per-call": { type: "string" },
      "max-per-hour": { type: "string" },
      "max-total": { type: "string" },
      deposit: { type: "string" },
      http: { type: "string" },
      "files-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new ConfigHelp();
  const amount = (flag: string, text: string | undefined, required: boolean): bigint | undefined => {
    if (text === undefined || text === "") {
      if (required) throw new Error(`--${flag} (or EDGEPAY_MCP_${flag.replaceAll("-", "_").toUpperCase()}) is required: the budget an agent may spend, in token base units`);
      return undefined;
    }
    if (!/^[0-9]{1,78}$/.test(text)) throw new Error(`--${flag} must be a whole number of token base units, got "${text}"`);
    return BigInt(text);
  };
  const caps: BudgetCaps = {
    perCall: amount("max-per-call", values["max-per-call"] ?? env.EDGEPAY_MCP_MAX_PER_CALL, true)!,
    perHour: amount("max-per-hour", values["max-per-hour"] ?? env.EDGEPAY_MCP_MAX_PER_HOUR, true)!,
    total: amount("max-total", values["max-total"] ?? env.EDGEPAY_MCP_MAX_TOTAL, true)!,
  };
  const deposit = amount("deposit", values.deposit ?? env.EDGEPAY_MCP_DEPOSIT, false);
  if (deposit === 0n) throw new Error("--deposit must be positive");
  const portText = values.http ?? env.EDGEPAY_MCP_HTTP_PORT;
  let httpPort: number | undefined;
  if (portText !== undefined && portText !== "") {
    httpPort = Number(portText);
    if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) throw new Error(`--http must be a port (0-65535), got "${portText}"`);
  }
  const filesDir = values["files-dir"] ?? env.EDGEPAY_MCP_FILES_DIR;
  return {
    caps,
    ...(filesDir ? { filesDir } : {}),
    ...(deposit !== undefined ? { deposit } : {}),
    ...(httpPort !== undefined ? { httpPort } : {}),
    rpcUrl: env.EDGEPAY_RPC_URL ?? "http://127.0.0.1:8545",
    ...(env.EDGEPAY_PAYMENT_CHANNELS ? { paymentChannels: env.EDGEPAY_PAYMENT_CHANNELS } : {}),
    ...(env.EDGEPAY_BUYER_KEY ? { buyerKey: env.EDGEPAY_BUYER_KEY } : {}),
    home: env.EDGEPAY_BUYER_HOME ?? path.join(homedir(), ".edgepay", "buyer"),
  };
}

export class ConfigHelp extends Error {}
