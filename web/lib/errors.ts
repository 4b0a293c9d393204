// Turns anything a wallet, viem or a contract throws into one sentence a person can act on.
import {
  BaseError,
  ContractFunctionRevertedError,
  UserRejectedRequestError,
  decodeErrorResult,
  parseAbi,
  type Abi,
  type Hex,
} from "viem";
import {
  deviceRegistryAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
  testUsdcAbi,
} from "../../protocol/generated/contracts.ts";

/** Errors of third-party tokens a channel may use (USDC-like pause and blacklist, OpenZeppelin Pausable). */
const TOKEN_ERRORS = parseAbi(["error TokenPaused()", "error Blacklisted(address account)", "error EnforcedPause()"]);

const ALL_ERRORS = [...paymentChannelsAbi, ...deviceRegistryAbi, ...modelRegistryAbi, ...testUsdcAbi, ...TOKEN_ERRORS].filter(
  (item) => item.type === "error",
) as Abi;

const STATUS = ["None", "Active", "Paused", "Exiting", "Removed", "Withdrawn"];

type Args = readonly unknown[];
const a = (args: Args, i: number) => String(args[i]);
const short = (v: unknown) => {
  const s = String(v);
  return s.length > 14 ? `${s.slice(0, 8)}…${s.slice(-4)}` : s;
};

/** Readable sentences for the contracts' custom errors (raw token units where the error carries amounts). */
const MESSAGES: Record<string, (args: Args) => string> = {
  // DeviceRegistry
  DeviceAlreadyRegistered: (x) => `Device ${short(x[0])} is already registered.`,
  DeviceNotFound: (x) => `Device ${short(x[0])} is not registered.`,
  NotDeviceOwner: (x) => `You (${short(x[1])}) do not own device ${short(x[0])}.`,
  InvalidBinding: (x) =>
    `The binding signature was not made by device ${short(x[0])} for your address (it recovers to ${short(x[1])}). Run the worker's init with your wallet address as owner.`,
  BindingExpired: (x) => `The binding signature expired (deadline ${a(x, 0)}, now ${a(x, 1)}): create a new one with the worker's init.`,
  StakeTooLow: (x) => `The stake ${a(x, 0)} is below the minimum ${a(x, 1)} (token units).`,
  InvalidDeviceStatus: (x) => `Device ${short(x[0])} is ${STATUS[Number(x[1])] ?? x[1]}: that action is not allowed now.`,
  ModelNotLicensed: (x) => `You hold no license for model #${a(x, 0)}: take the license first.`,
  OfferingNotFound: (x) => `Device ${short(x[0])} does not offer model #${a(x, 1)} in that token.`,
  StillUnbonding: (x) => `The stake is still unbonding until ${new Date(Number(x[1]) * 1000).toLocaleString()}.`,
  SlashExceedsStake: (x) => `Slash ${a(x, 0)} exceeds the stake ${a(x, 1)}.`,
  EmptyEndpoint: () => "The endpoint is empty.",
  // ModelRegistry
  ModelNotFound: (x) => `Model #${a(x, 0)} does not exist.`,
  NotModelOwner: (x) => `You (${short(x[1])}) do not own model #${a(x, 0)}.`,
  RoyaltyTooHigh: (x) => `A royalty of ${Number(x[0]) / 100}% is above the cap of ${Number(x[1]) / 100}%.`,
  EmptyContentHash: () => "The model's content hash is empty: pick the .onnx file.",
  EmptyName: () => "The model needs a name.",
  LicenseTokenMissing: () => "A license fee needs a token to be paid in.",
  ModelIsDeprecated: (x) => `Model #${a(x, 0)} is deprecated.`,
  VersionAlreadySuperseded: (x) => `Model #${a(x, 0)} already has a newer version (#${a(x, 1)}): publish on top of that one.`,
  AlreadyLicensed: (x) => `${short(x[1])} already holds a license for model #${a(x, 0)}.`,
  ZeroOwner: () => "The new owner is the zero address.",
  // PaymentChannels
  ChannelNotFound: (x) => `No channel ${short(x[0])} exists.`,
  ChannelExists: (x) => `Channel ${short(x[0])} exists already.`,
  ChannelIsSettled: (x) => `Channel ${short(x[0])} is settled: it accepts nothing more.`,
  NotPayer: (x) => `Only the channel's payer may do this (you are ${short(x[1])}).`,
  PriceMismatch: (x) => `The offering's price changed (${a(x, 0)} asked, now ${a(x, 1)}): reload and try again.`,
  RoyaltyMismatch: (x) => `The model's royalty changed (${a(x, 0)} bps asked, now ${a(x, 1)}): reload and try again.`,
  PayeeMismatch: (x) => `The device changed owner (payee ${short(x[0])}, owner ${short(x[1])}): reload and try again.`,
  DepositOverflow: () => "The deposit would exceed 2^96 token units.",
  InvalidSignature: (x) => `The signature is not from ${short(x[1])} (it recovers to ${short(x[2])}).`,
  ChannelAmountTooHigh: (x) => `The amount ${a(x, 0)} is larger than the deposit ${a(x, 1)}.`,
  NothingToClaim: (x) => `Nothing to claim: the voucher (${a(x, 1)}) is not above what was claimed (${a(x, 2)}).`,
  ChannelClosing: (x) => `The channel is closing (challenge period ends ${new Date(Number(x[1]) * 1000).toLocaleString()}).`,
  ChallengePeriodOver: () => "The challenge period is over: no more claims on this channel.",
  ChallengePeriodActive: (x) => `The challenge period runs until ${new Date(Number(x[1]) * 1000).toLocaleString()}: withdraw after that.`,
  ChannelNotClosing: () => "Request a close first; the refund can be withdrawn after the challenge period.",
  AmountBelowClaimed: (x) => `The close amount ${a(x, 0)} is below what was already claimed (${a(x, 1)}).`,
  NotRoyaltyOwner: (x) => `Only the owner of model #${a(x, 0)} may withdraw its royalties.`,
  NothingToWithdraw: () => "Nothing is credited to you in that token.",
  UnsupportedToken: (x) => `The token moved ${a(x, 2)} instead of ${a(x, 1)} (token units): it is not supported.`,
  EmptyBatch: () => "Nothing to claim: the batch is empty.",
  // Shared / token
  ZeroAddress: () => "An address is missing (zero address).",
  ZeroAmount: () => "The amount must be greater than zero.",
  FaucetLimitExceeded: (x) => `The faucet gives at most ${Number(x[1]) / 1e6} tokens per call.`,
  ERC20InsufficientBalance: (x) => `Not enough tokens: balance ${a(x, 1)}, needed ${a(x, 2)} (token units). Use the faucet.`,
  ERC20InsufficientAllowance: (x) => `The allowance ${a(x, 1)} is below ${a(x, 2)}: approve first.`,
  ERC2612ExpiredSignature: () => "The permit signature expired.",
  ERC2612InvalidSigner: () => "The permit was signed by another account.",
  TokenPaused: () => "The token is paused by its issuer: nothing moved, and your credit stays withdrawable once it resumes.",
  EnforcedPause: () => "The token is paused by its issuer: nothing moved, and your credit stays withdrawable once it resumes.",
  Blacklisted: (x) => `The token refuses transfers to or from ${short(x[0])} (blocked by its issuer): nothing moved.`,
  SafeERC20FailedOperation: (x) => `The token transfer of ${short(x[0])} failed.`,
};

/** One readable sentence for an error from a wallet, viem or a contract. */
export function describeError(error: unknown): string {
  if (isUserRejection(error)) return "You rejected the request in your wallet; nothing was sent.";
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      if (name) return messageFor(name, reverted.data?.args ?? []);
      const decoded = decodeRevertData(reverted.raw);
      if (decoded) return decoded;
      if (reverted.reason) return `The contract reverted: ${reverted.reason}`;
    }
    const data = findRevertData(error);
    const decoded = data ? decodeRevertData(data) : undefined;
    if (decoded) return decoded;
    return error.shortMessage || error.message;
  }
  const data = findRevertData(error);
  const decoded = data ? decodeRevertData(data) : undefined;
  if (decoded) return decoded;
  return error instanceof Error ? error.message : String(error);
}

export function isUserRejection(error: unknown): boolean {
  if (error instanceof BaseError && error.walk((e) => e instanceof UserRejectedRequestError)) return true;
  let e: unknown = error;
  for (let i = 0; i < 6 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (code === 4001 || code === UserRejectedRequestError.code) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function messageFor(name: string, args: Args): string {
  const make = MESSAGES[name];
  return make ? make(args) : `The contract refused: ${name}(${args.map(String).join(", ")}).`;
}

/** Decodes custom-error revert data against every Edgepay ABI. */
export function decodeRevertData(data: Hex | undefined): string | undefined {
  if (!data || data.length < 10) return undefined;
  try {
    const { errorName, args } = decodeErrorResult({ abi: ALL_ERRORS, data });
    return messageFor(errorName, (args ?? []) as Args);
  } catch {
    return undefined;
  }
}

function findRevertData(error: unknown): Hex | undefined {
  let e: unknown = error;
  for (let i = 0; i < 8 && e && typeof e === "object"; i++) {
    const data = (e as { data?: unknown }).data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(data)) return data as Hex;
    if (data && typeof data === "object" && typeof (data as { data?: unknown }).data === "string") {
      const inner = (data as { data: string }).data;
      if (/^0x[0-9a-fA-F]{8,}$/.test(inner)) return inner as Hex;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
