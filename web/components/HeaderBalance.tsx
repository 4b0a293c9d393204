"use client";
import { useBalance, useConnection } from "wagmi";
import { formatEther } from "viem";
import { useEdgepay } from "../hooks/useEdgepay.ts";
import { useToken } from "../hooks/useToken.ts";
import { LOCAL_CHAIN_ID } from "../lib/runtime-config.ts";

/** The network by name and the connected account's token and ETH balances, always in view in the header. */
export function HeaderBalance() {
  const edgepay = useEdgepay();
  const { address, chainId } = useConnection();
  const token = useToken(address);
  const eth = useBalance({ address, query: { enabled: !!address } });
  const network = edgepay.chainId === LOCAL_CHAIN_ID ? "Local Hardhat" : `Chain ${edgepay.chainId}`;
  return (
    <span className="small header-balance" data-testid="header-network">
      <span className={chainId !== undefined && chainId !== edgepay.chainId ? "error" : "muted"} title={edgepay.rpcUrl}>
        {network} ({edgepay.chainId})
      </span>
      {address && (
        <>
          {" · "}
          <b data-testid="header-balance">{token.balance !== undefined ? token.format(token.balance) : "…"}</b>
          {eth.data && <span className="muted"> · {Number(formatEther(eth.data.value)).toFixed(4)} ETH</span>}
        </>
      )}
    </span>
  );
}
