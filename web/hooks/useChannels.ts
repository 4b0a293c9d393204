"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { readChannels } from "../lib/chain-reads.ts";
import { readAll, readChannelsPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

/** Channels of one payer, or to a set of devices, with their state (indexed when configured; else on-chain views). */
export function useChannels(filter: { payer?: Address; devices?: readonly Address[] }, enabled = true) {
  const src = useListSource();
  return useQuery({
    queryKey: ["edgepay", "channels", src?.config.contracts.paymentChannels, filter.payer ?? null, filter.devices?.join(",") ?? null, src?.indexer?.url ?? null],
    queryFn: () => readAll(src!, (s, p) => readChannelsPage(s, filter, p), () => readChannels(src!.client, src!.config, filter)),
    enabled: !!src && enabled,
  });
}
