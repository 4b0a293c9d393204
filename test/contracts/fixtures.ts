// Shared deployment fixtures and signing helpers of the contract tests. Fixtures are plain functions handed to
// `networkHelpers.loadFixture`, which snapshots the chain after the first run and reverts to it afterwards.
import { expect } from "chai";
import { network } from "hardhat";
import {
  AbiCoder,
  MaxUint256,
  Signature,
  Wallet,
  ZeroAddress,
  keccak256,
  verifyTypedData,
  type Addressable,
  type ContractTransactionReceipt,
  type Signer,
  type TypedDataDomain,
} from "ethers";
import {
  deviceRegistryAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
  testUsdcAbi,
} from "../../protocol/generated/contracts.ts";
import { closeTypes, deviceBindingTypes, voucherTypes } from "../../protocol/eip712.ts";
import { channelTermsAbi } from "../../protocol/terms.ts";
import { typed, type Typed } from "./typed.ts";

export { typed } from "./typed.ts";
export { deviceRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";

export const { ethers, networkHelpers } = await network.getOrCreate();

export type TestUsdc = Typed<typeof testUsdcAbi>;
/** Any ERC-20 of the tests: TestUSDC or one of the test-only mocks (same faucet, no permit). */
export type Erc20 = Omit<TestUsdc, "permit" | "nonces" | "DOMAIN_SEPARATOR" | "eip712Domain" | "FAUCET_LIMIT">;
export type ModelRegistry = Typed<typeof modelRegistryAbi>;
export type DeviceRegistry = Typed<typeof deviceRegistryAbi>;
export type PaymentChannels = Typed<typeof paymentChannelsAbi>;

/** 10 tokens of 6 decimals, as the deploy default. */
export const MIN_STAKE = 10_000_000n;
export const UNBONDING_DELAY = 7n * 24n * 3600n;
export const CHALLENGE_PERIOD = 3600n;
/** Faucet amount every funded account starts with: 1,000 tokens. */
export const FUNDS = 1_000_000_000n;
export const ROYALTY_BPS = 1_000;
export const LICENSE_FEE = 5_000_000n;
/** 0.001 token per inference. */
export const PRICE = 1_000n;
export const DEPOSIT = 50_000_000n;
export const MAX_UINT96 = (1n << 96n) - 1n;
/** Balances once the market fixture ran: the provider paid the license fee to the model owner and staked. */
export const PROVIDER_START = FUNDS - LICENSE_FEE - MIN_STAKE;
export const MODEL_OWNER_START = FUNDS + LICENSE_FEE;
export const CONTENT_HASH = keccak256(new TextEncoder().encode("model.onnx bytes"));

/** Device life cycle, as IDeviceRegistry.Status. */
export const Status = { None: 0n, Active: 1n, Paused: 2n, Exiting: 3n, Removed: 4n, Withdrawn: 5n } as const;

export interface Terms {
  payer: string;
  signer: string;
  device: string;
  payee: string;
  token: string;
  modelId: bigint;
  price: bigint;
  royaltyBps: number;
  salt: bigint;
}

/** keccak256(abi.encode(terms)), computed off-chain with ethers. */
export function idOf(terms: Terms): string {
  const tuple = `tuple(${channelTermsAbi.components.map((c) => `${c.type} ${c.name}`).join(",")})`;
  return keccak256(AbiCoder.defaultAbiCoder().encode([tuple], [terms]));
}

/** The Terms fields as an array, in ABI order, as event arguments are compared. */
export function termsTuple(terms: Terms): unknown[] {
  return channelTermsAbi.components.map((c) => terms[c.name]);
}

export async function deployFixture() {
  const signers = await ethers.getSigners();
  const at = (i: number) => {
    const signer = signers[i];
    if (!signer) throw new Error(`Hardhat account ${i} missing`);
    return signer;
  };
  const [admin, modelOwner, provider, payer, other, deviceKey, provider2, deviceKey2, slasher] = [
    at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8),
  ] as const;
  const usdc = typed(await ethers.deployContract("TestUSDC"), testUsdcAbi);
  const models = typed(await ethers.deployContract("ModelRegistry"), modelRegistryAbi);
  const devices = typed(
    await ethers.deployContract("DeviceRegistry", [usdc, MIN_STAKE, UNBONDING_DELAY, models, admin]),
    deviceRegistryAbi,
  );
  const channels = typed(
    await ethers.deployContract("PaymentChannels", [devices, models, CHALLENGE_PERIOD]),
    paymentChannelsAbi,
  );
  for (const account of [modelOwner, provider, payer, other, provider2]) await usdc.faucet(account, FUNDS);
  const { chainId } = await ethers.provider.getNetwork();
  // A session key that exists only in the buyer's browser: never funded, never sends a transaction.
  const sessionKey = new Wallet("0x" + "5e".repeat(32));
  return {
    chainId,
    usdc,
    models,
    devices,
    channels,
    admin,
    modelOwner,
    provider,
    payer,
    other,
    deviceKey,
    provider2,
    deviceKey2,
    slasher,
    sessionKey,
  };
}

export type Deployed = Awaited<ReturnType<typeof deployFixture>>;

export function modelParams(overrides: Partial<ModelParams> = {}): ModelParams {
  return {
    name: "silero-vad",
    contentHash: CONTENT_HASH,
    uri: "ipfs://silero-vad.onnx",
    royaltyBps: ROYALTY_BPS,
    licenseToken: ZeroAddress,
    licenseFee: 0n,
    ...overrides,
  };
}

export interface ModelParams {
  name: string;
  contentHash: string;
  uri: string;
  royaltyBps: number;
  licenseToken: string | Addressable;
  licenseFee: bigint;
}

/** Registers `deviceKey` for `owner` with a fresh binding signature. */
export async function registerDevice(d: Deployed, owner: Signer, deviceKey: Signer, stake = MIN_STAKE, endpoint = "http://127.0.0.1:7001") {
  const deadline = BigInt(await networkHelpers.time.latest()) + 3600n;
  const signature = await signBinding(d, deviceKey, await owner.getAddress(), deadline);
  await d.usdc.connect(owner).approve(d.devices, stake);
  return d.devices.connect(owner).register(deviceKey, endpoint, '{"hw":"cpu"}', stake, deadline, signature);
}

/**
 * One model (10% royalty, 5-token license fee in TestUSDC) licensed by `provider`, whose device offers it at
 * PRICE in TestUSDC; the payer has approved the channels contract.
 */
export async function marketFixture() {
  const d = await deployFixture();
  const { usdc, models, devices, channels, modelOwner, provider, payer, deviceKey } = d;
  await models.connect(modelOwner).publish(modelParams({ licenseToken: await usdc.getAddress(), licenseFee: LICENSE_FEE }));
  const modelId = 1n;
  await usdc.connect(provider).approve(models, LICENSE_FEE);
  await models.connect(provider).takeLicense(modelId, provider, LICENSE_FEE);
  await registerDevice(d, provider, deviceKey);
  await devices.connect(provider).setOffering(deviceKey, modelId, usdc, PRICE);
  await usdc.connect(payer).approve(channels, MaxUint256);
  return { ...d, modelId };
}

export type Market = Awaited<ReturnType<typeof marketFixture>>;

/** Channel terms for the market's offering, signed by the session key, with `overrides`. */
export async function termsFor(m: Market, overrides: Partial<Terms> = {}): Promise<Terms> {
  return {
    payer: await m.payer.getAddress(),
    signer: m.sessionKey.address,
    device: await m.deviceKey.getAddress(),
    payee: await m.provider.getAddress(),
    token: await m.usdc.getAddress(),
    modelId: m.modelId,
    price: PRICE,
    royaltyBps: ROYALTY_BPS,
    salt: 1n,
    ...overrides,
  };
}

/** Test-only token without permit (contracts/test/PlainERC20.sol). */
export async function deployPlainToken(): Promise<Erc20> {
  return typed(await ethers.deployContract("PlainERC20", ["Plain Token", "PLN"]), testUsdcAbi);
}

/** Test-only token that burns `feeBps` of every transfer (contracts/test/FeeOnTransferERC20.sol). */
export async function deployFeeToken(feeBps: number): Promise<Erc20> {
  return typed(await ethers.deployContract("FeeOnTransferERC20", [feeBps]), testUsdcAbi);
}

/** Lists the market's model on the provider's device in `token` as well, and funds and approves the payer. */
export async function offerIn(m: Market, token: Erc20, payerFunds = FUNDS): Promise<void> {
  await m.devices.connect(m.provider).setOffering(m.deviceKey, m.modelId, token, PRICE);
  await token.faucet(m.payer, payerFunds);
  await token.connect(m.payer).approve(m.channels, MaxUint256);
}

/** Opens a channel of the market's offering from the payer; returns its terms and id. */
export async function openChannel(m: Market, overrides: Partial<Terms> = {}, deposit = DEPOSIT) {
  const terms = await termsFor(m, overrides);
  await m.channels.connect(m.payer).open(terms, deposit);
  return { terms, id: idOf(terms) };
}

/** The market plus one open channel of DEPOSIT whose vouchers the session key signs. */
export async function channelFixture() {
  const m = await marketFixture();
  const terms = await termsFor(m);
  await m.channels.connect(m.payer).open(terms, DEPOSIT);
  return { ...m, terms, id: idOf(terms) };
}

export function channelsDomain(chainId: bigint, verifyingContract: string): TypedDataDomain {
  return { name: "Edgepay PaymentChannels", version: "1", chainId, verifyingContract };
}

const mutable = <T extends Record<string, readonly { name: string; type: string }[]>>(types: T) =>
  Object.fromEntries(Object.entries(types).map(([k, v]) => [k, v.map((f) => ({ ...f }))]));

/** EIP-712 Voucher(channelId, cumulativeAmount) signed by `signer`; `domain` defaults to the channels contract. */
export async function signVoucher(
  d: Deployed,
  signer: Signer,
  channelId: string,
  cumulativeAmount: bigint,
  domain?: TypedDataDomain,
): Promise<string> {
  const dom = domain ?? channelsDomain(d.chainId, await d.channels.getAddress());
  return signer.signTypedData(dom, mutable(voucherTypes), { channelId, cumulativeAmount });
}

/** EIP-712 CloseChannel(channelId, cumulativeAmount) signed by `signer` (normally the device key). */
export async function signClose(d: Deployed, signer: Signer, channelId: string, cumulativeAmount: bigint): Promise<string> {
  return signer.signTypedData(
    channelsDomain(d.chainId, await d.channels.getAddress()),
    mutable(closeTypes),
    { channelId, cumulativeAmount },
  );
}

/** The address a voucher signature recovers to under the channels contract's domain. */
export async function recoverVoucher(d: Deployed, channelId: string, cumulativeAmount: bigint, signature: string) {
  return verifyTypedData(
    channelsDomain(d.chainId, await d.channels.getAddress()),
    mutable(voucherTypes),
    { channelId, cumulativeAmount },
    signature,
  );
}

/** The address a CloseChannel signature recovers to under the channels contract's domain. */
export async function recoverClose(d: Deployed, channelId: string, cumulativeAmount: bigint, signature: string) {
  return verifyTypedData(
    channelsDomain(d.chainId, await d.channels.getAddress()),
    mutable(closeTypes),
    { channelId, cumulativeAmount },
    signature,
  );
}

export async function bindingDomain(d: Deployed): Promise<TypedDataDomain> {
  return { name: "Edgepay DeviceRegistry", version: "1", chainId: d.chainId, verifyingContract: await d.devices.getAddress() };
}

/** EIP-712 DeviceBinding(device = signer, owner, deadline) signed by the device key. */
export async function signBinding(d: Deployed, deviceKey: Signer, owner: string, deadline: bigint, device?: string) {
  return deviceKey.signTypedData(await bindingDomain(d), mutable(deviceBindingTypes), {
    device: device ?? (await deviceKey.getAddress()),
    owner,
    deadline,
  });
}

export async function recoverBinding(d: Deployed, device: string, owner: string, deadline: bigint, signature: string) {
  return verifyTypedData(await bindingDomain(d), mutable(deviceBindingTypes), { device, owner, deadline }, signature);
}

export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export async function permitDomain(d: Deployed): Promise<TypedDataDomain> {
  return { name: "Test USD Coin", version: "1", chainId: d.chainId, verifyingContract: await d.usdc.getAddress() };
}

/** An EIP-2612 permit of TestUSDC from `owner` to `spender`, split into v, r, s. */
export async function signPermit(d: Deployed, owner: Signer, spender: string | Addressable, value: bigint, deadline: bigint) {
  const ownerAddress = await owner.getAddress();
  const spenderAddress = typeof spender === "string" ? spender : await spender.getAddress();
  const nonce = await d.usdc.nonces(ownerAddress);
  const signature = await owner.signTypedData(await permitDomain(d), permitTypes, {
    owner: ownerAddress,
    spender: spenderAddress,
    value,
    nonce,
    deadline,
  });
  const { v, r, s } = Signature.from(signature);
  return { v, r, s, signature, nonce };
}

/** Every Transfer of `token` in a receipt, in log order, as [from, to, value]. */
export async function transfersOf(receipt: ContractTransactionReceipt | null, token: Erc20): Promise<[string, string, bigint][]> {
  if (!receipt) throw new Error("transaction was not mined");
  const address = await token.getAddress();
  const out: [string, string, bigint][] = [];
  for (const log of receipt.logs) {
    if (log.address !== address) continue;
    const parsed = token.interface.parseLog(log);
    if (parsed?.name === "Transfer") out.push([parsed.args[0] as string, parsed.args[1] as string, parsed.args[2] as bigint]);
  }
  return out;
}

/** Names of the events `contract` emitted in a receipt, in log order. */
export async function eventsOf(receipt: ContractTransactionReceipt | null, contract: PaymentChannels): Promise<string[]> {
  if (!receipt) throw new Error("transaction was not mined");
  const address = await contract.getAddress();
  return receipt.logs.filter((l) => l.address === address).map((l) => contract.interface.parseLog(l)?.name ?? "?");
}

/** Asserts exact token balances, to the unit. */
export async function expectBalances(token: Erc20, expected: [string | Addressable, bigint][]): Promise<void> {
  for (const [who, amount] of expected) {
    const address = typeof who === "string" ? who : await who.getAddress();
    expect(await token.balanceOf(address), `balance of ${address}`).to.equal(amount);
  }
}

/** Provider share and royalty of a claimed delta, as the contract rounds them (royalty rounded down). */
export function split(delta: bigint, royaltyBps: number): { provider: bigint; royalty: bigint } {
  const royalty = (delta * BigInt(royaltyBps)) / 10_000n;
  return { provider: delta - royalty, royalty };
}
