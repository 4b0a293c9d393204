"use client";
import { useState } from "react";
import type { Address, Hex } from "viem";
import { useConfig } from "wagmi";
import { signMessage } from "wagmi/actions";
import { settleMessage, type SettleResponseWire } from "../../protocol/wire.ts";
import { describeError, isUserRejection } from "../lib/errors.ts";

export type ClaimNowState =
  | { status: "idle" }
  | { status: "signing" }
  | { status: "pending" }
  | { status: "sent"; channels: number; txHash: Hex | null }
  | { status: "rejected"; message: string }
  | { status: "failed"; message: string };

/**
 * "Claim now": the connected wallet (the device owner) signs the worker's settle message and POSTs it to the
 * device's endpoint; the worker claims every channel with verified unclaimed value and answers once it is mined.
 */
export function useClaimNow(device: Address, endpoint: string) {
  const config = useConfig();
  const [state, setState] = useState<ClaimNowState>({ status: "idle" });
  const busy = state.status === "signing" || state.status === "pending";

  const claim = async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    let signature: Hex;
    setState({ status: "signing" });
    try {
      signature = await signMessage(config, { message: settleMessage(device, timestamp) });
    } catch (error) {
      setState(isUserRejection(error) ? { status: "rejected", message: "You declined to sign the claim request." } : { status: "failed", message: describeError(error) });
      return;
    }
    setState({ status: "pending" });
    try {
      const res = await fetch(`${endpoint.replace(/\/$/, "")}/v1/settle`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ timestamp, signature }),
        cache: "no-store",
      });
      const body = (await res.json().catch(() => undefined)) as (SettleResponseWire & { error?: { code: string; message: string } }) | undefined;
      if (!res.ok || !body || body.error) {
        setState({ status: "failed", message: body?.error ? `${body.error.message} (${body.error.code})` : `the worker answered HTTP ${res.status}` });
        return;
      }
      setState({ status: "sent", channels: body.channels, txHash: body.txHash as Hex | null });
    } catch (error) {
      setState({ status: "failed", message: `the worker at ${endpoint} could not be reached: ${error instanceof Error ? error.message : String(error)}` });
    }
  };

  return { state, busy, claim };
}
