"use client";
import { useMemo } from "react";
import { LocalStorageBuyerStore } from "../lib/session-store.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** This browser's session keys and receipts for the configured chain and PaymentChannels contract. */
export function useBuyerStore(): LocalStorageBuyerStore {
  const config = useEdgepay();
  return useMemo(() => new LocalStorageBuyerStore(config.chainId, config.contracts.paymentChannels), [config.chainId, config.contracts.paymentChannels]);
}
