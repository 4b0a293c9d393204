// `npm run mcp`: an MCP server through which an AI agent finds Edgepay devices and pays them, within the budget
// the operator set. stdio by default (the agent spawns it); --http PORT serves streamable HTTP on 127.0.0.1.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createPublicClient, createWalletClient, http, isAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deployments } from "../protocol/generated/contracts.ts";
import { Buyer } from "../protocol/client/index.ts";
import { FileBuyerStore } from "../protocol/node/file-store.ts";
import { Budget } from "./budget.ts";
import { ConfigHelp, readConfig, USAGE, type McpConfig } from "./config.ts";
import { Market } from "./market.ts";
import { registerTools, type ToolContext } from "./tools.ts";

/**
 * The SDK answers arguments that fail a tool's schema with an `isError` result of its own text, made by its
 * (TypeScript-private) createToolError. Replacing it on the instance gives those the same stable codes as every other
 * tool failure; test/integration/mcp.test.ts pins the behaviour, so an SDK change shows up there.
 */
function withCodedArgumentErrors(server: McpServer): McpServer {
  const coded = (errorMessage: string) => {
    const code = /Input validation error|Invalid arguments for tool/.test(errorMessage) ? "bad_arguments" : /Tool .* (not found|disabled)/.test(errorMessage) ? "unknown_tool" : "internal_error";
    return { isError: true, content: [{ type: "text" as const, text: `${code}: ${errorMessage}` }], structuredContent: { error: { code, message: errorMessage } } };
  };
  Object.assign(server, { createToolError: coded });
  return server;
}

async function buildContext(config: McpConfig): Promise<ToolContext> {
  const publicClient = createPublicClient({ transport: http(config.rpcUrl) });
  let chainId: number;
  try {
    chainId = await publicClient.getChainId();
  } catch {
    throw new Error(`no chain answers at ${config.rpcUrl} (set EDGEPAY_RPC_URL)`);
  }
  const paymentChannels = config.paymentChannels ?? deployments.find((d) => d.chainId === chainId)?.paymentChannels;
  if (!paymentChannels || !isAddress(paymentChannels)) throw new Error(`no PaymentChannels address for chain ${chainId}: set EDGEPAY_PAYMENT_CHANNELS`);
  let wallet: ReturnType<typeof createWalletClient> | undefined;
  if (config.buyerKey) {
    const k = config.buyerKey.startsWith("0x") ? config.buyerKey : `0x${config.buyerKey}`;
    if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw new Error("EDGEPAY_BUYER_KEY must be a 32-byte hex private key");
    const chain = { id: chainId, name: `chain ${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [config.rpcUrl] } } };
    wallet = createWalletClient({ account: privateKeyToAccount(k as Hex), chain, transport: http(config.rpcUrl) });
  }
  const store = new FileBuyerStore(config.home);
  const buyer = new Buyer({ publicClient, wallet: wallet as ConstructorParameters<typeof Buyer>[0]["wallet"], paymentChannels: paymentChannels as Address, store });
  const budget = await Budget.load(config.caps, config.home);
  return {
    buyer,
    market: new Market(buyer, publicClient),
    budget,
    ...(wallet?.account ? { payer: wallet.account.address } : {}),
    ...(config.deposit !== undefined ? { deposit: config.deposit } : {}),
    ...(config.filesDir !== undefined ? { filesDir: config.filesDir } : {}),
  };
}

function newServer(ctx: ToolContext): McpServer {
  const server = withCodedArgumentErrors(new McpServer({ name: "edgepay", version: "0.1.0" }));
  registerTools(server, ctx);
  return server;
}

async function serveHttp(ctx: ToolContext, port: number) {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const httpServer = createServer(async (req, res) => {
    try {
      if (new URL(req.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: "the MCP endpoint is /mcp" } }));
        return;
      }
      const id = header(req, "mcp-session-id");
      let transport = id ? sessions.get(id) : undefined;
      if (id && !transport) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "unknown_session", message: `no MCP session ${id}` } }));
        return;
      }
      if (!transport) {
        // A session per client, each with its own McpServer over the shared buyer and budget.
        const t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => void sessions.set(sid, t) });
        t.onclose = () => {
          if (t.sessionId) sessions.delete(t.sessionId);
        };
        await newServer(ctx).connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "internal_error", message: (error as Error).message } }));
    }
  });
  await new Promise<void>((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
  const address = httpServer.address();
  console.error(`edgepay MCP server on http://127.0.0.1:${typeof address === "object" && address ? address.port : port}/mcp`);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

let config: McpConfig;
try {
  config = readConfig(process.argv.slice(2), process.env);
} catch (error) {
  if (error instanceof ConfigHelp) {
    console.log(USAGE);
    process.exit(0);
  }
  console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
  process.exit(1);
}
try {
  const ctx = await buildContext(config);
  if (config.httpPort !== undefined) await serveHttp(ctx, config.httpPort);
  else await newServer(ctx).connect(new StdioServerTransport());
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
