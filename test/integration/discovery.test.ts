// Discovery for agents against a real worker on a local chain: the worker's GET /discovery/resources and the bazaar
// extension of its 402, checked against our zod schemas, against the field names of x402's bazaar spec, and (their
// JSON Schemas) with a JSON Schema 2020-12 validator over the worker's real inputs; and the market listing built
// from the chain by `npm run market -- list --json`, with a second registered device offline.
import { expect } from "chai";
import { Validator } from "@cfworker/json-schema";
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { deviceRegistryAbi } from "../../protocol/generated/contracts.ts";
import { inferBody } from "../../protocol/client/index.ts";
import {
  BAZAAR,
  BAZAAR_402_MAX_CHARS,
  fitBazaar,
  httpBazaar,
  bazaarExtensionWire,
  DISCOVERY_PATH,
  discoveryListWire,
  marketListingWire,
  type BazaarExtension,
} from "../../protocol/discovery.ts";
import { PAYMENT_REQUIRED_HEADER, x402PaymentRequiredWire } from "../../protocol/x402.ts";
import { registerDevice } from "../../worker/register.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { PPOCR_DIRECTION_CLS, PROVIDER_INDEX, setupMarket, SILERO_VAD_V5, vadInputs, type Market } from "../../scripts/lib/worker-fixture.ts";

/** Field names of bazaar.md's tables: "Body Methods", "MCP Tools", "Output Types", and the extension object. */
const SPEC_BODY_INPUT = ["type", "method", "bodyType", "body", "queryParams", "headers"];
const SPEC_MCP_INPUT = ["type", "tool", "description", "inputSchema", "transport", "example"];
const SPEC_OUTPUT = ["type", "format", "example"];
/** x402-specification-v2.md 8.2 "Discovered Resource Fields" (plus `extensions`, the 402's, carried beside). */
const SPEC_ITEM = ["resource", "type", "x402Version", "accepts", "lastUpdated", "metadata"];

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** `info` validated against `schema`, as bazaar.md requires of a facilitator. */
function validInfo(ext: BazaarExtension): { valid: boolean; errors: string[] } {
  const r = new Validator(ext.schema as never, "2020-12", false).validate(ext.info);
  return { valid: r.valid, errors: r.errors.map((e) => `${e.instanceLocation}: ${e.error}`) };
}

describe("discovery: bazaar extension, /discovery/resources and the market listing from the chain", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let base: string;
  let offline: string;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [
        { file: SILERO_VAD_V5, name: "Silero VAD v5", price: 1_000n },
        { file: PPOCR_DIRECTION_CLS, name: "PaddleOCR direction", price: 5_000n },
      ],
    });
    base = market.worker!.url;
    // Agents find devices through the registry: point it at the running worker.
    const provider = clientsFor(net, PROVIDER_INDEX);
    const d = await provider.publicClient.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [market.device.address] });
    await provider.publicClient.waitForTransactionReceipt({
      hash: await provider.walletClient.writeContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "updateDevice", args: [market.device.address, base, d.metadata] }),
    });
    // A second device of the same provider, registered with an endpoint nothing listens on.
    const key = generatePrivateKey();
    offline = privateKeyToAccount(key).address;
    await registerDevice({
      rpcUrl: net.chain.url,
      contracts: market.contracts,
      ownerKey: TEST_KEYS[PROVIDER_INDEX]!,
      devicePrivateKey: key,
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      models: [{ modelId: market.models[0]!.modelId, price: 900n }],
      fundEth: "0",
    });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("GET /discovery/resources lists the HTTP route and the MCP tool of every model, with the spec's fields and the model's real tensors", async () => {
    const res = await fetch(`${base}${DISCOVERY_PATH}`);
    expect(res.status).to.equal(200);
    const raw = (await res.json()) as { items: Record<string, unknown>[] };
    const list = discoveryListWire.parse(raw);
    expect(list.pagination).to.deep.equal({ limit: 20, offset: 0, total: 4 });
    for (const item of raw.items) expect(Object.keys(item).filter((k) => k !== "extensions")).to.have.members(SPEC_ITEM);
    const [vadModel, clsModel] = market.models;
    expect(list.items.map((i) => [i.type, i.resource, i.metadata.tool ?? null])).to.deep.equal([
      ["http", `${base}/v1/infer/${vadModel!.modelId}`, null],
      ["mcp", `${base}/mcp`, `infer_${vadModel!.modelId}`],
      ["http", `${base}/v1/infer/${clsModel!.modelId}`, null],
      ["mcp", `${base}/mcp`, `infer_${clsModel!.modelId}`],
    ]);
    const runtimes = market.worker!.internals.models;
    for (const item of list.items) {
      const m = market.models.find((x) => x.modelId.toString() === item.metadata.modelId)!;
      const runtime = runtimes.get(item.metadata.modelId)!.runtime;
      expect([item.metadata.name, item.metadata.modelHash, item.metadata.price, item.metadata.device.toLowerCase()]).to.deep.equal([m.name, m.hash, m.price.toString(), market.device.address.toLowerCase()]);
      expect(item.metadata.inputs).to.deep.equal(runtime.inputs);
      expect(item.metadata.outputs).to.deep.equal(runtime.outputs);
      expect(item.metadata.health).to.include({ reachable: true, status: "ok" });
      expect(item.accepts).to.have.length.greaterThan(0);
      const a = item.accepts.find((x) => x.scheme === "edgepay-channel")!;
      expect([a.network, a.amount, a.asset.toLowerCase(), a.payTo.toLowerCase()]).to.deep.equal([`eip155:${market.chainId}`, m.price.toString(), market.token.toLowerCase(), market.provider.toLowerCase()]);
    }
  });

  it("the bazaar extension follows the spec's field names, its info validates against its schema, and its body schema accepts real inputs and refuses wrong ones", async () => {
    const list = discoveryListWire.parse(await (await fetch(`${base}${DISCOVERY_PATH}`)).json());
    const vadId = market.models[0]!.modelId.toString();
    for (const item of list.items) {
      const ext = item.extensions![BAZAAR]!;
      const input = ext.info.input as Record<string, unknown>;
      expect(Object.keys(input)).to.satisfy((keys: string[]) => keys.every((k) => (item.type === "http" ? SPEC_BODY_INPUT : SPEC_MCP_INPUT).includes(k)), JSON.stringify(Object.keys(input)));
      expect(Object.keys(ext.info.output!)).to.satisfy((keys: string[]) => keys.every((k) => SPEC_OUTPUT.includes(k)));
      expect(input.type).to.equal(item.type);
      const check = validInfo(ext);
      expect(check.valid, check.errors.join("; ")).to.equal(true);
    }
    const vadHttp = list.items.find((i) => i.type === "http" && i.metadata.modelId === vadId)!.extensions![BAZAAR]!;
    const bodySchema = (vadHttp.schema.properties.input as { properties: { body: object } }).properties.body;
    const body = new Validator(bodySchema as never, "2020-12", false);
    expect(body.validate(JSON.parse(inferBody(vadInputs()))).valid, "the inputs the worker accepts").to.equal(true);
    const wrongDims = vadInputs();
    wrongDims.state!.dims = [2, 1, 64];
    expect(body.validate({ inputs: wrongDims }).valid, "state of the wrong fixed size").to.equal(false);
    const missing = vadInputs();
    delete missing.sr;
    expect(body.validate({ inputs: missing }).valid, "an input left out").to.equal(false);
    expect(body.validate({ inputs: { ...vadInputs(), extra: { type: "float32", dims: [1], data: [0] } } }).valid, "an input the model lacks").to.equal(false);
    // The MCP tool's inputSchema is the same schema: one description of the arguments, whichever transport.
    const vadMcp = list.items.find((i) => i.type === "mcp" && i.metadata.modelId === vadId)!.extensions![BAZAAR]!;
    expect((vadMcp.info.input as { inputSchema: object }).inputSchema).to.deep.equal(bodySchema);
  });

  it("a 402 of the paid route carries the same bazaar extension in PAYMENT-REQUIRED", async () => {
    const id = market.models[0]!.modelId;
    const res = await fetch(`${base}/v1/infer/${id}`, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs()) });
    expect(res.status).to.equal(402);
    const required = x402PaymentRequiredWire.parse(JSON.parse(Buffer.from(res.headers.get(PAYMENT_REQUIRED_HEADER)!, "base64").toString("utf8")));
    const ext = bazaarExtensionWire.parse(required.extensions![BAZAAR]);
    const list = discoveryListWire.parse(await (await fetch(`${base}${DISCOVERY_PATH}?type=http`)).json());
    expect(ext).to.deep.equal(list.items.find((i) => i.metadata.modelId === id.toString())!.extensions![BAZAAR]);
    // Echoed by x402 clients into PAYMENT-SIGNATURE (8 KiB at most): the extension must leave room for the payment.
    expect(JSON.stringify(required.extensions![BAZAAR]).length).to.be.at.most(BAZAAR_402_MAX_CHARS);
    // A model with many tensors: the 402's copy is cut to fit (output schema, then the body schema), still valid.
    const many = Array.from({ length: 24 }, (_, i) => ({ name: `tensor_${i}`, type: "float32", dims: [1, 3, "height", "width"] }));
    const full = httpBazaar({ inputs: many, outputs: many });
    const fitted = bazaarExtensionWire.parse(fitBazaar(full));
    expect(JSON.stringify(full).length).to.be.above(BAZAAR_402_MAX_CHARS);
    expect(JSON.stringify(fitted).length).to.be.at.most(BAZAAR_402_MAX_CHARS);
    expect(validInfo(fitted).valid, validInfo(fitted).errors.join("; ")).to.equal(true);
  });

  it("query parameters: type filter and pages; bad values are 400 bad_request", async () => {
    const mcp = discoveryListWire.parse(await (await fetch(`${base}${DISCOVERY_PATH}?type=mcp`)).json());
    expect(mcp.items.map((i) => i.type)).to.deep.equal(["mcp", "mcp"]);
    const page = discoveryListWire.parse(await (await fetch(`${base}${DISCOVERY_PATH}?limit=1&offset=3`)).json());
    expect([page.items.length, page.pagination.total, page.items[0]!.type]).to.deep.equal([1, 4, "mcp"]);
    const past = discoveryListWire.parse(await (await fetch(`${base}${DISCOVERY_PATH}?offset=4`)).json());
    expect(past.items).to.have.length(0);
    for (const q of ["limit=0", "limit=101", "limit=-1", "offset=x", "type=a2a"]) {
      const res = await fetch(`${base}${DISCOVERY_PATH}?${q}`);
      expect(res.status, q).to.equal(400);
      expect(((await res.json()) as { error: { code: string } }).error.code, q).to.equal("bad_request");
    }
    expect((await fetch(`${base}${DISCOVERY_PATH}?limit=100`)).status).to.equal(200);
    expect((await fetch(`${base}${DISCOVERY_PATH}`, { method: "POST" })).status).to.equal(405);
  });

  it("npm run market -- list --json: both devices from the chain, the offline one unreachable (not dropped), items of the online one", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, "mcp/market-cli.ts"), "list", "--json", "--timeout-ms", "2000"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", EDGEPAY_RPC_URL: net.chain.url, EDGEPAY_PAYMENT_CHANNELS: market.contracts.paymentChannels },
    });
    const listing = marketListingWire.parse(JSON.parse(stdout));
    expect(listing.chainId).to.equal(market.chainId);
    const online = listing.devices.find((d) => d.device.toLowerCase() === market.device.address.toLowerCase())!;
    const down = listing.devices.find((d) => d.device.toLowerCase() === offline.toLowerCase())!;
    expect(listing.devices).to.have.length(2);
    expect([online.reachable, online.endpoint, online.offers.length]).to.deep.equal([true, base, 2]);
    expect([down.reachable, down.status, down.offers]).to.deep.equal([false, "active", [{ modelId: market.models[0]!.modelId.toString(), token: market.token, price: "900" }]]);
    expect(down.error).to.be.a("string").and.not.equal("");
    expect(listing.items).to.have.length(4);
    expect(listing.items.every((i) => i.metadata.device.toLowerCase() === market.device.address.toLowerCase())).to.equal(true);

    const human = await promisify(execFile)(process.execPath, [path.join(ROOT, "mcp/market-cli.ts"), "list", "--model", market.models[0]!.modelId.toString()], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", EDGEPAY_RPC_URL: net.chain.url, EDGEPAY_PAYMENT_CHANNELS: market.contracts.paymentChannels },
    });
    expect(human.stdout).to.match(/UNREACHABLE/);
    expect(human.stdout).to.include(`tool infer_${market.models[0]!.modelId}`);
    expect(human.stdout).to.not.include(`infer_${market.models[1]!.modelId}`);

    const bad = await promisify(execFile)(process.execPath, [path.join(ROOT, "mcp/market-cli.ts"), "list", "--model", "x"], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).to.equal(2);
    expect((bad as { stderr: string }).stderr).to.include("--model must be a model id");
  });
});
