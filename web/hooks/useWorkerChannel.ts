"use client";
import { useQuery } from "@tanstack/react-query";
import type { Hex } from "viem";

export interface WorkerChannelView {
  lastAccepted: bigint;
  claimed: bigint;
}

/** What the serving worker has accepted on a channel (GET /v1/channels/:id): the provider's unclaimed value. */
export function useWorkerChannel(endpoint: string | undefined, channelId: Hex) {
  return useQuery({
    queryKey: ["workerHealth", "channel", endpoint, channelId],
    enabled: !!endpoint,
    retry: false,
    refetchInterval: 5_000,
    queryFn: async (): Promise<WorkerChannelView | null> => {
      const res = await fetch(`${endpoint!.replace(/\/$/, "")}/v1/channels/${channelId}`, { signal: AbortSignal.timeout(4_000), cache: "no-store" });
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { lastAccepted?: string; claimed?: string };
      return { lastAccepted: BigInt(body.lastAccepted ?? "0"), claimed: BigInt(body.claimed ?? "0") };
    },
  });
}
