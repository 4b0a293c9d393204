"use client";
import { useQuery } from "@tanstack/react-query";
import { usePublicClient } from "wagmi";
import { auditContext } from "../../protocol/client/audit.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** The chain context receipts are checked against: FlightRecorder, its PaymentChannels and ModelRegistry. */
export function useAuditContext() {
  const config = useEdgepay();
  const client = usePublicClient();
  const flightRecorder = config.contracts.flightRecorder;
  return useQuery({
    queryKey: ["edgepay", "auditContext", flightRecorder, config.chainId],
    queryFn: () => auditContext(client!, flightRecorder!, BigInt(config.fromBlock)),
    enabled: !!client && !!flightRecorder,
    staleTime: Infinity,
  });
}
