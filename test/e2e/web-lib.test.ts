// Unit tests of the dashboard's pure helpers (no browser): the binding a worker's `init` prints, amounts typed by a
// person, and contract errors decoded into sentences.
import { expect } from "chai";
import { encodeErrorResult } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deviceRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { parseBinding } from "../../web/lib/binding.ts";
import { decodeRevertData, describeError, isUserRejection } from "../../web/lib/errors.ts";
import { formatAmount, parseAmount } from "../../web/lib/format.ts";
import { devWallet } from "../../web/lib/dev-wallet.ts";
import { chainOf, makeWagmiConfig } from "../../web/wagmi.ts";
import { TEST_KEYS } from "../../scripts/lib/localnet.ts";

const DEVICE = privateKeyToAccount(TEST_KEYS[5]).address;
const OWNER = privateKeyToAccount(TEST_KEYS[2]).address;
const SIG = `0x${"ab".repeat(65)}`;

describe("dashboard helpers", () => {
  it("reads the binding exactly as worker/cli.ts init prints it, and as JSON", () => {
    const printed = [`device: ${DEVICE}`, "keystore: /data/device-key.json", "passphrase: /data/device-key.passphrase", `owner: ${OWNER}`, "chainId: 31337", "deadline: 1800000000", `bindingSignature: ${SIG}`].join("\n");
    const a = parseBinding(printed);
    expect(a.ok && a.binding).to.deep.include({ device: DEVICE, owner: OWNER, deadline: 1_800_000_000n, signature: SIG });
    const b = parseBinding(JSON.stringify({ device: DEVICE, owner: OWNER, deadline: "1800000000", signature: SIG }));
    expect(b.ok && b.binding.signature).to.equal(SIG);
  });

  it("names what is missing from a bad binding", () => {
    expect(parseBinding(`device: ${DEVICE}\ndeadline: 5`)).to.deep.equal({ ok: false, reason: 'The binding has no 65-byte signature ("signature").' });
    expect(parseBinding("hello")).to.have.property("ok", false);
    expect(parseBinding(JSON.stringify({ device: DEVICE, signature: SIG }))).to.deep.equal({ ok: false, reason: 'The binding has no deadline ("deadline", unix seconds).' });
    // A device or owner that is there but is not an address is named as such (not as "missing").
    expect(parseBinding(JSON.stringify({ device: "0x1234", deadline: "5", signature: SIG }))).to.deep.equal({ ok: false, reason: 'device "0x1234" is not an address: 40 hex digits after 0x.' });
    expect(parseBinding(`device: 0x1234\ndeadline: 5\nbindingSignature: ${SIG}`)).to.deep.equal({ ok: false, reason: 'device "0x1234" is not an address: 40 hex digits after 0x.' });
    expect(parseBinding(JSON.stringify({ device: DEVICE, owner: "0xabc", deadline: "5", signature: SIG }))).to.deep.equal({ ok: false, reason: 'owner "0xabc" is not an address: 40 hex digits after 0x.' });
  });

  it("parses and formats token amounts with the token's decimals", () => {
    expect(parseAmount("1.5", 6)).to.equal(1_500_000n);
    expect(parseAmount("0.000001", 6)).to.equal(1n);
    expect(parseAmount("0.0000001", 6)).to.equal(undefined);
    expect(parseAmount("-1", 6)).to.equal(undefined);
    expect(parseAmount("1e6", 6)).to.equal(undefined);
    expect(formatAmount(1_234_567_890n, 6, "tUSDC")).to.equal("1,234.56789 tUSDC");
    expect(formatAmount(10_000n, 6)).to.equal("0.01");
  });

  it("decodes the contracts' custom errors into sentences", () => {
    const low = encodeErrorResult({ abi: deviceRegistryAbi, errorName: "StakeTooLow", args: [1_000_000n, 10_000_000n] });
    expect(decodeRevertData(low)).to.equal("The stake 1000000 is below the minimum 10000000 (token units).");
    const closing = encodeErrorResult({ abi: paymentChannelsAbi, errorName: "ChallengePeriodActive", args: [`0x${"11".repeat(32)}`, 1_800_000_000n] });
    expect(decodeRevertData(closing)).to.match(/^The challenge period runs until .+: withdraw after that\.$/);
    // Revert data nested in an RPC error, as a wallet relays it.
    expect(describeError({ message: "execution reverted", code: -32603, data: { data: low } })).to.contain("below the minimum");
    expect(decodeRevertData("0xdeadbeef")).to.equal(undefined);
  });

  it("treats a refused signature as a rejection, not a failure", () => {
    const refused = Object.assign(new Error("User rejected the request."), { code: 4001 });
    expect(isUserRejection(refused)).to.equal(true);
    expect(describeError(refused)).to.equal("You rejected the request in your wallet; nothing was sent.");
    expect(isUserRejection(new Error("nonce too low"))).to.equal(false);
  });

  it("offers the dev wallet on the local chain only", () => {
    const base = {
      rpcUrl: "http://127.0.0.1:8545",
      deploymentId: "x",
      contracts: { token: DEVICE, modelRegistry: DEVICE, deviceRegistry: DEVICE, paymentChannels: DEVICE },
      fromBlock: "0",
      workers: [],
    };
    const local = makeWagmiConfig({ ...base, chainId: 31337 });
    expect(local.connectors.map((c) => c.type)).to.include("devWallet");
    const other = makeWagmiConfig({ ...base, chainId: 8453 });
    expect(other.connectors.map((c) => c.type)).not.to.include("devWallet");
    expect(() => devWallet(chainOf({ ...base, chainId: 1 }))).to.throw("for chain 31337 only");
  });
});
