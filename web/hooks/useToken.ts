"use client";
import { useReadContracts } from "wagmi";
import type { Address } from "viem";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { formatAmount } from "../lib/format.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** The payment token's decimals and symbol, and (given an account) its balance and allowance to PaymentChannels. */
export function useToken(account?: Address) {
  const config = useEdgepay();
  const token = config.contracts.token;
  const { data, refetch } = useReadContracts({
    allowFailure: false,
    contracts: [
      { address: token, abi: testUsdcAbi, functionName: "decimals" },
      { address: token, abi: testUsdcAbi, functionName: "symbol" },
      { address: token, abi: testUsdcAbi, functionName: "balanceOf", args: [account ?? "0x0000000000000000000000000000000000000000"] },
      { address: token, abi: testUsdcAbi, functionName: "allowance", args: [account ?? "0x0000000000000000000000000000000000000000", config.contracts.paymentChannels] },
    ],
  });
  const decimals = data ? Number(data[0]) : 6;
  const symbol = data?.[1] ?? "";
  return {
    address: token,
    decimals,
    symbol,
    loaded: !!data,
    balance: account && data ? data[2] : undefined,
    allowance: account && data ? data[3] : undefined,
    format: (v: bigint) => formatAmount(v, decimals, symbol),
    refetch,
  };
}
