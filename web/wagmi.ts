// The one wagmi config of the dashboard, built in the browser from /api/config (chain, RPC URL).
import { createConfig, http, injected, type CreateConnectorFn } from "wagmi";
import { defineChain, type Chain } from "viem";
import { hardhat } from "viem/chains";
import { devWallet } from "./lib/dev-wallet.ts";
import { LOCAL_CHAIN_ID, type RuntimeConfig } from "./lib/runtime-config.ts";

export function chainOf(runtime: RuntimeConfig): Chain {
  const rpcUrls = { default: { http: [runtime.rpcUrl] } };
  if (runtime.chainId === LOCAL_CHAIN_ID) return { ...hardhat, rpcUrls };
  return defineChain({
    id: runtime.chainId,
    name: `Chain ${runtime.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls,
  });
}

export function makeWagmiConfig(runtime: RuntimeConfig) {
  const chain = chainOf(runtime);
  // EIP-6963 wallets are discovered by wagmi itself (multiInjectedProviderDiscovery); `injected()` covers a legacy
  // window.ethereum. The dev wallet is added on the local chain only.
  const connectors: CreateConnectorFn[] = [injected()];
  if (chain.id === LOCAL_CHAIN_ID) connectors.push(devWallet(chain));
  return createConfig({
    chains: [chain],
    connectors,
    multiInjectedProviderDiscovery: true,
    transports: { [chain.id]: http(runtime.rpcUrl) },
    pollingInterval: chain.id === LOCAL_CHAIN_ID ? 1_000 : 4_000,
    ssr: true,
  });
}

export type EdgepayWagmiConfig = ReturnType<typeof makeWagmiConfig>;
