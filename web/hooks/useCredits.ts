"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { usePublicClient } from "wagmi";
import { readCredits } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Non-zero credits PaymentChannels holds for `account` (payouts or refunds whose transfer failed), per token. */
export function useCredits(account: Address | undefined) {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "credits", config.contracts.paymentChannels, account ?? null],
    queryFn: () => readCredits(client!, config, account!),
    enabled: !!client && !!account,
  });
}
