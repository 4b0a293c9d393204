"use client";
import { useQuery } from "@tanstack/react-query";
import { useBuyerStore } from "./useBuyerStore.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** The receipts this browser's paid inferences got (the try-it page's store), newest first. */
export function useSessionReceipts() {
  const config = useEdgepay();
  const store = useBuyerStore();
  return useQuery({
    queryKey: ["edgepay", "sessionReceipts", config.chainId, config.contracts.paymentChannels],
    queryFn: async () => (await store.listReceipts()).sort((a, b) => b.receivedAt - a.receivedAt),
  });
}
