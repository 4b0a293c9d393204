"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { usePublicClient } from "wagmi";
import { readChannels } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Channels of one payer, or to a set of devices, with their on-chain state. */
export function useChannels(filter: { payer?: Address; devices?: readonly Address[] }, enabled = true) {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "channels", config.contracts.paymentChannels, filter.payer ?? null, filter.devices?.join(",") ?? null],
    queryFn: () => readChannels(client!, config, filter),
    enabled: !!client && enabled,
  });
}
