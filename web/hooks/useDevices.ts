"use client";
import { useQuery } from "@tanstack/react-query";
import { usePublicClient } from "wagmi";
import { readDevices } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Every registered device with its status, stake, endpoint and live offerings. */
export function useDevices() {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "devices", config.contracts.deviceRegistry],
    queryFn: () => readDevices(client!, config),
    enabled: !!client,
  });
}
