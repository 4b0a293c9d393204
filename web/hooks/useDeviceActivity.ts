"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { usePublicClient } from "wagmi";
import { readAnchors, readDeviceClaims } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** One device's channels, the claims on them and its FlightRecorder anchors. */
export function useDeviceActivity(device: Address | undefined) {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "deviceActivity", config.contracts.paymentChannels, device ?? null],
    queryFn: async () => {
      const [{ channels, claims }, anchors] = await Promise.all([readDeviceClaims(client!, config, device!), readAnchors(client!, config, device!)]);
      return { channels, claims, anchors };
    },
    enabled: !!client && !!device,
  });
}
