"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { usePublicClient } from "wagmi";
import { readReputation } from "../../protocol/reputation.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** A device's reputation from the chain's logs (protocol/reputation.ts): anchors, feedback, disputes, slashes, score. */
export function useReputation(device: Address | undefined) {
  const config = useEdgepay();
  const client = usePublicClient();
  const { deviceRegistry, flightRecorder, answerDisputes, deviceReputation } = config.contracts;
  return useQuery({
    queryKey: ["edgepay", "reputation", deviceRegistry, device ?? null],
    queryFn: () => readReputation(client!, { deviceRegistry, flightRecorder, answerDisputes, deviceReputation }, device!, { fromBlock: BigInt(config.fromBlock) }),
    enabled: !!client && !!device,
    refetchInterval: 15_000,
  });
}
