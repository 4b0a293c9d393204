// POST /v1/settle: the device owner asks the worker to claim now (the dashboard's "Claim now"). Authorised by an
// EIP-191 signature of the owner over a timestamped message; a replay inside the window only claims again, and a
// claim always pays the channel's payee, so a leaked signature can move no money anywhere else.
import type { IncomingMessage, ServerResponse } from "node:http";
import { recoverMessageAddress, type Address, type Hex } from "viem";
import { SETTLE_MAX_SKEW_SECONDS, settleMessage, settleRequestWire, type SettleResponseWire } from "@edgepay/protocol/wire";
import type { ClaimResult } from "../settlement/settler.ts";
import { HttpError, readBody, sendJson } from "./io.ts";

export interface SettleRouteContext {
  device: Address;
  maxBodyBytes: number;
  /** The device's owner in DeviceRegistry, as last read (cached by the worker). */
  owner: () => Address;
  /** Re-reads the owner from DeviceRegistry (getDevice); called when a signer differs from the cached owner. */
  refreshOwner: () => Promise<Address>;
  claimNow: () => Promise<ClaimResult>;
  log: (level: "error" | "info" | "debug", msg: string) => void;
}

export async function settle(ctx: SettleRouteContext, req: IncomingMessage, res: ServerResponse) {
  const body = await readBody(req, ctx.maxBodyBytes);
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError("invalid_json", `body is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = settleRequestWire.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HttpError("bad_request", `body ${issue.path.join(".") || "(root)"}: ${issue.message}; expected {"timestamp": <unix seconds>, "signature": "0x<65 bytes hex>"}`);
  }
  const { timestamp, signature } = parsed.data;
  // Wall clock, not chain time: the owner's browser signs with its own clock.
  const skew = timestamp - Math.floor(Date.now() / 1000);
  if (Math.abs(skew) > SETTLE_MAX_SKEW_SECONDS) {
    throw new HttpError("bad_request", `timestamp ${timestamp} is ${Math.abs(skew)} s ${skew < 0 ? "in the past" : "in the future"}; it must be within ${SETTLE_MAX_SKEW_SECONDS} s of now`);
  }
  let signer: Address;
  try {
    signer = await recoverMessageAddress({ message: settleMessage(ctx.device, timestamp), signature: signature as Hex });
  } catch {
    throw new HttpError("bad_request", "signature is not a valid secp256k1 signature");
  }
  let owner = ctx.owner();
  if (signer.toLowerCase() !== owner.toLowerCase()) {
    try {
      owner = await ctx.refreshOwner();
    } catch (error) {
      ctx.log("error", `settle: owner lookup: ${(error as Error).message.split("\n")[0]}`);
      throw new HttpError("unavailable", "the chain could not be reached to read the device owner; retry");
    }
  }
  if (signer.toLowerCase() !== owner.toLowerCase()) {
    throw new HttpError("not_device_owner", `the message "${settleMessage(ctx.device, timestamp)}" was signed by ${signer}, not by the device owner ${owner}`);
  }
  let result: ClaimResult;
  try {
    result = await ctx.claimNow();
  } catch (error) {
    ctx.log("error", `settle: ${(error as Error).message.split("\n")[0]}`);
    throw new HttpError("unavailable", `the claim failed: ${(error as Error).message.split("\n")[0]}`);
  }
  const answer: SettleResponseWire = { channels: result.channels, txHash: result.txHash };
  sendJson(res, 200, answer);
}
