"use client";
import { useCallback } from "react";
import type { Hash, Hex } from "viem";
import { useConfig, usePublicClient } from "wagmi";
import { getWalletClient } from "wagmi/actions";
import { createBuyer } from "../../protocol/client/buyer.ts";
import { useBuyerStore } from "./useBuyerStore.ts";
import { useEdgepay } from "./useEdgepay.ts";

/**
 * Cooperative close: the worker signs CloseChannel for the channel's latest voucher (POST /v1/channels/:id/close),
 * the protocol client checks that signature (the channel's device, at most what this browser signed) and submits
 * `closeCooperatively`: the refund arrives in the same transaction, without a challenge period.
 * Resolves to the transaction hash (already mined); throws a readable error when the worker cannot sign.
 */
export function useCooperativeClose() {
  const config = useConfig();
  const edgepay = useEdgepay();
  const publicClient = usePublicClient();
  const store = useBuyerStore();
  return useCallback(
    async (channelId: Hex, endpoint: string | undefined): Promise<Hash> => {
      if (!publicClient) throw new Error("No connection to the chain.");
      const wallet = await getWalletClient(config);
      const buyer = createBuyer({ publicClient, wallet, paymentChannels: edgepay.contracts.paymentChannels, store, retries: 1 });
      const { hash } = await buyer.closeCooperatively(channelId, endpoint);
      return hash;
    },
    [config, edgepay.contracts.paymentChannels, publicClient, store],
  );
}
