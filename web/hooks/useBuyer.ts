"use client";
import { useMemo } from "react";
import { usePublicClient } from "wagmi";
import { createBuyer, type Buyer } from "../../protocol/client/buyer.ts";
import { useBuyerStore } from "./useBuyerStore.ts";
import { useEdgepay } from "./useEdgepay.ts";

/**
 * The protocol's buyer client over this browser's store: it pays on channels whose session key lives here
 * (no wallet needed to pay), resynchronises on 402 and verifies every receipt.
 */
export function useBuyer(): Buyer | undefined {
  const config = useEdgepay();
  const publicClient = usePublicClient();
  const store = useBuyerStore();
  return useMemo(
    () => (publicClient ? createBuyer({ publicClient, paymentChannels: config.contracts.paymentChannels, store, retries: 1 }) : undefined),
    [publicClient, config.contracts.paymentChannels, store],
  );
}
