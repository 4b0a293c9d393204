"use client";
import { useQuery } from "@tanstack/react-query";
import { usePublicClient } from "wagmi";
import { readLicenses } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Every license taken (LicenseTaken events). */
export function useLicenses() {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "licenses", config.contracts.modelRegistry],
    queryFn: () => readLicenses(client!, config),
    enabled: !!client,
  });
}
