// x402's MCP transport against a real worker on a local chain, driven by the MCP SDK's own Client over streamable
// HTTP at the worker's /mcp: an unpaid tool call is the spec's PaymentRequired result; a call paying with
// `_meta["x402/payment"]` (the buyer library's callPaidTool) answers with `_meta["x402/payment-response"]` and a
// receipt the buyer verifies; a replayed payment is answered again without a second charge; malformed `_meta` is
// refused with a stable code and nothing stored. Also: the operator budget's `authorize` hook holds for payments
// sent through x402 (HTTP via @x402/fetch, and MCP), refusing before any voucher is signed.
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { x402Client } from "@x402/core/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, callPaidTool, MemoryBuyerStore, paymentRequiredOf, toolErrorOf, type McpCallTool, type McpToolResult } from "../../protocol/client/index.ts";
import { EdgepayChannelScheme } from "../../protocol/client/x402-scheme.ts";
import { BAZAAR, bazaarExtensionWire, MCP_PAYMENT_META, MCP_PAYMENT_RESPONSE_META } from "../../protocol/discovery.ts";
import { receiptToWire } from "../../protocol/receipt.ts";
import { tensorFromWire, type Tensor, type TensorMapWire } from "../../protocol/tensors.ts";
import { caip2, x402PaymentRequiredWire, x402SettleResponseWire } from "../../protocol/x402.ts";
import { Budget } from "../../mcp/budget.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { setupMarket, SILERO_VAD_V5, vadInputs, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const BUYER = 6;

const tensors = (wire: TensorMapWire): Record<string, Tensor> => Object.fromEntries(Object.entries(wire).map(([n, w]) => [n, tensorFromWire(n, w)]));

describe("x402 MCP transport: paid tools on the worker's /mcp", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let modelId: bigint;
  let tool: string;
  let mcp: Client;
  let dir: string;
  /** The buyer of the paid test, whose channel still has credit. */
  let payer: Buyer;
  const sent: { name: string; arguments: Record<string, unknown>; _meta?: Record<string, unknown> }[] = [];
  const callTool: McpCallTool = async (params) => {
    sent.push(structuredClone(params));
    return (await mcp.callTool(params)) as McpToolResult;
  };
  const newBuyer = () => {
    const { publicClient, walletClient } = clientsFor(net, BUYER);
    return new Buyer({ publicClient, wallet: walletClient, paymentChannels: market.contracts.paymentChannels, store: new MemoryBuyerStore(), http: { timeoutMs: 20_000 } });
  };
  const balance = () => clientsFor(net, BUYER).publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [clientsFor(net, BUYER).account.address] });

  function snapshot() {
    const store = market.worker!.internals.store;
    return {
      receipts: store.receipts().map((r) => `${r.sequence}:${r.channelId}:${r.amount}`),
      channels: store.channels().map((c) => ({ id: c.id, accepted: c.acceptedAmount, sig: c.acceptedSig })),
    };
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, price: PRICE }], config: { http: { unpaidPerClient: { burst: 100_000, perSecond: 1_000 } } } });
    modelId = market.models[0]!.modelId;
    tool = `infer_${modelId}`;
    const b = clientsFor(net, BUYER);
    await b.publicClient.waitForTransactionReceipt({ hash: await b.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [b.account.address, 10_000_000n] }) });
    mcp = new Client({ name: "edgepay-x402-mcp-test", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${market.worker!.url}/mcp`)));
    dir = await mkdtemp(path.join(tmpdir(), "edgepay-mcp-x402-"));
  });
  after(async () => {
    await mcp?.close();
    await market?.stop();
    await net?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("lists one tool per model with the inputs' JSON Schema and the bazaar description", async () => {
    const { tools } = await mcp.listTools();
    expect(tools.map((t) => t.name)).to.deep.equal([tool]);
    const t = tools[0]!;
    expect(t.inputSchema.type).to.equal("object");
    expect(Object.keys((t.inputSchema.properties as { inputs: { properties: object } }).inputs.properties)).to.have.members(["input", "state", "sr"]);
    const ext = bazaarExtensionWire.parse(t._meta?.[BAZAAR]);
    expect(ext.info.input).to.include({ type: "mcp", tool, transport: "streamable-http" });
  });

  it("an unpaid call is the spec's PaymentRequired result (structuredContent and the same JSON in content[0].text); nothing stored", async () => {
    const before = snapshot();
    const r = (await mcp.callTool({ name: tool, arguments: { inputs: vadInputs() } })) as McpToolResult & { content: { type: string; text: string }[] };
    expect(r.isError).to.equal(true);
    const required = x402PaymentRequiredWire.parse(r.structuredContent);
    expect(JSON.parse(r.content[0]!.text)).to.deep.equal(r.structuredContent);
    expect(required.resource.url).to.equal(`${market.worker!.url}/mcp`);
    const a = required.accepts[0]!;
    expect([a.scheme, a.network, a.amount, a.asset.toLowerCase(), a.payTo.toLowerCase()]).to.deep.equal(["edgepay-channel", caip2(market.chainId), PRICE.toString(), market.token.toLowerCase(), market.provider.toLowerCase()]);
    expect(bazaarExtensionWire.parse(required.extensions![BAZAAR]).info.input).to.include({ type: "mcp", tool });
    expect(toolErrorOf(r)?.code).to.equal("payment_required");
    expect(paymentRequiredOf({ content: r.content })).to.deep.equal(required);
    expect(snapshot()).to.deep.equal(before);
  });

  it("a paid call answers the outputs with x402/payment-response; the buyer verifies the receipt; a replayed payment is not charged twice", async () => {
    const buyer = newBuyer();
    const paidBefore = await balance();
    const before = snapshot();
    const result = await callPaidTool(buyer, { callTool, endpoint: market.worker!.url, modelId, inputs: tensors(vadInputs(3)), autoOpen: { deposit: 10n * PRICE } });
    expect([result.cost, result.units, result.receipt.cumulativeAmount]).to.deep.equal([PRICE, 1n, PRICE]);
    expect(Object.keys(result.outputs)).to.include("output");
    expect(result.settlement).to.deep.include({ success: true, network: caip2(market.chainId), amount: PRICE.toString() });
    expect(result.settlement.receipt && receiptToWire(result.settlement.receipt)).to.deep.equal(receiptToWire(result.receipt));
    // Money: the deposit left the buyer (opened on demand) and the device accepted exactly one price.
    expect(paidBefore - (await balance())).to.equal(10n * PRICE);
    const after = snapshot();
    expect(after.receipts.length).to.equal(before.receipts.length + 1);
    expect(after.channels.find((c) => c.id === result.channelId)!.accepted).to.equal(PRICE);
    expect((await buyer.store.listReceipts({ channelId: result.channelId })).map((r) => r.verification.valid)).to.deep.equal([true]);
    payer = buyer;

    // The same tools/call again, byte for byte (a client retrying after a lost answer): the stored answer.
    const paid = sent.at(-1)!;
    expect(paid._meta?.[MCP_PAYMENT_META]).to.be.an("object");
    // The bazaar extension of the PaymentRequired was echoed (bazaar.md, client behaviour) and the payment still fit.
    expect((paid._meta![MCP_PAYMENT_META] as { extensions?: Record<string, unknown> }).extensions).to.have.property(BAZAAR);
    const replay = (await mcp.callTool(paid)) as McpToolResult;
    expect(replay.isError, JSON.stringify(replay.content)).to.not.equal(true);
    const settled = x402SettleResponseWire.parse(replay._meta?.[MCP_PAYMENT_RESPONSE_META]);
    expect(receiptToWire(settled.receipt!)).to.deep.equal(receiptToWire(result.receipt));
    expect(snapshot()).to.deep.equal(after);

    // The same payment for other inputs: refused (the MAC covers the arguments), nothing stored.
    const other = (await mcp.callTool({ ...paid, arguments: { inputs: vadInputs(4) } })) as McpToolResult;
    expect(other.isError).to.equal(true);
    expect(toolErrorOf(other)?.code).to.equal("invalid_mac");
    expect(x402PaymentRequiredWire.safeParse(other.structuredContent).success).to.equal(true);
    expect(snapshot()).to.deep.equal(after);

    // The next paid call signs on top of the first one.
    const second = await callPaidTool(buyer, { callTool, endpoint: market.worker!.url, modelId, inputs: tensors(vadInputs(5)) });
    expect([second.channelId, second.receipt.cumulativeAmount]).to.deep.equal([result.channelId, 2n * PRICE]);
  });

  it("malformed _meta[\"x402/payment\"] is refused with a stable code; nothing stored", async () => {
    const good = sent.at(-1)!;
    const payment = good._meta![MCP_PAYMENT_META] as Record<string, unknown>;
    const before = snapshot();
    const cases: [string, unknown, string][] = [
      ["a string", "not a payment", "x402_malformed"],
      ["null", null, "x402_malformed"],
      ["no accepted", { ...payment, accepted: undefined }, "x402_malformed"],
      ["x402Version 1", { ...payment, x402Version: 1 }, "x402_version"],
      ["another scheme", { ...payment, accepted: { ...(payment.accepted as object), scheme: "exact-but-not" } }, "x402_unsupported_scheme"],
      ["another network", { ...payment, accepted: { ...(payment.accepted as object), network: "eip155:1" } }, "x402_unsupported_network"],
      ["payload without mac", { ...payment, payload: { ...(payment.payload as object), mac: undefined } }, "x402_malformed"],
      ["oversized", { ...payment, padding: "x".repeat(9_000) }, "x402_malformed"],
    ];
    for (const [what, value, code] of cases) {
      const r = (await mcp.callTool({ name: tool, arguments: good.arguments, _meta: { [MCP_PAYMENT_META]: value } })) as McpToolResult;
      expect(r.isError, what).to.equal(true);
      expect(toolErrorOf(r)?.code, what).to.equal(code);
    }
    const unknown = (await mcp.callTool({ name: "infer_999", arguments: good.arguments })) as McpToolResult;
    expect(toolErrorOf(unknown)?.code).to.equal("unknown_model");
    expect(snapshot()).to.deep.equal(before);
  });

  it("the budget's authorize hook holds for x402-paid calls (HTTP via @x402/fetch and MCP): refused before a voucher is signed", async () => {
    const budget = await Budget.load({ perCall: PRICE - 1n, perHour: 1_000_000n, total: 1_000_000n }, dir);
    const buyer = payer;
    const signed = (await buyer.store.listChannels()).map((c) => [c.channelId, c.signed]);
    expect(signed).to.have.length(1);
    const before = snapshot();
    const balanceBefore = await balance();
    // HTTP: an unmodified @x402/fetch with our scheme, which now asks the same hook as Buyer.infer.
    const scheme = new EdgepayChannelScheme(buyer, { deposit: 10n * PRICE, authorize: (intent) => budget.authorizer()(intent) });
    const client = new x402Client().register("eip155:*", scheme);
    client.setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token }] });
    const pay = scheme.wrap(wrapFetchWithPayment(fetch, client));
    const refused = await pay(`${market.worker!.url}/v1/infer/${modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: vadInputs(7) }) }).catch((e: unknown) => e);
    expect(String(refused)).to.match(/per_call/);
    // The scheme's own maxPerRequest goes through the same hook: refused before the voucher, not after signing it.
    const capped = new EdgepayChannelScheme(buyer, { deposit: 10n * PRICE, maxPerRequest: PRICE - 1n });
    const cappedPay = capped.wrap(wrapFetchWithPayment(fetch, new x402Client().register("eip155:*", capped).setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token }] })));
    const over = await cappedPay(`${market.worker!.url}/v1/infer/${modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: vadInputs(7) }) }).catch((e: unknown) => e);
    expect(String(over)).to.match(/maxPerRequest/);
    // MCP: the same hook through callPaidTool.
    const viaMcp = await callPaidTool(buyer, { callTool, endpoint: market.worker!.url, modelId, inputs: tensors(vadInputs(8)), authorize: budget.authorizer() }).catch((e: unknown) => e);
    expect(String(viaMcp)).to.match(/per_call/);
    // The buyer's channel has credit: the refusal came at the voucher, and nothing more was signed on it.
    expect((await buyer.store.listChannels()).map((c) => [c.channelId, c.signed])).to.deep.equal(signed);
    expect(budget.status().spentTotal).to.equal(0n);
    expect(await balance()).to.equal(balanceBefore);
    expect(snapshot()).to.deep.equal(before);

    // Without a channel the refusal comes before the deposit: no channel opened, no token moved.
    const fresh = newBuyer();
    const atOpen = await callPaidTool(fresh, { callTool, endpoint: market.worker!.url, modelId, inputs: tensors(vadInputs(9)), autoOpen: { deposit: 10n * PRICE }, authorize: budget.authorizer() }).catch((e: unknown) => e);
    expect(String(atOpen)).to.match(/per_call/);
    expect(await fresh.store.listChannels()).to.deep.equal([]);
    expect(await balance()).to.equal(balanceBefore);
  });
});
