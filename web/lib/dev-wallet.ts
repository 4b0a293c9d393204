// The built-in dev wallet: a wagmi connector over Hardhat's test accounts that signs in the browser with viem's
// local accounts and sends raw transactions to the chain's RPC. It exists for chain 31337 only.
import { createConnector } from "wagmi";
import {
  createWalletClient,
  fromHex,
  getAddress,
  http,
  numberToHex,
  type Address,
  type Chain,
  type EIP1193RequestFn,
  type Hex,
  type TransactionRequest,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";
import { LOCAL_CHAIN_ID } from "./runtime-config.ts";

const INDEX_KEY = "edgepay.devWallet.index";

type DevProvider = { request: EIP1193RequestFn };
type DevProperties = {
  /** Selects which of the ten test accounts the wallet uses. */
  selectAccount(index: number): void;
  accountIndex(): number;
};

interface RpcTx {
  from?: Address;
  to?: Address;
  data?: Hex;
  value?: Hex;
  gas?: Hex;
  nonce?: Hex;
}

devWallet.type = "devWallet" as const;

/** Throws for any chain but Hardhat's: the keys are public, so the wallet must never meet a real network. */
export function devWallet(chain: Chain) {
  if (chain.id !== LOCAL_CHAIN_ID) throw new Error(`the dev wallet is for chain ${LOCAL_CHAIN_ID} only, not ${chain.id}`);
  const accounts = HARDHAT_DEV_KEYS.map((k) => privateKeyToAccount(k));
  let index = readIndex();
  let connected = false;
  const account = () => accounts[index]!;
  const rpcUrl = chain.rpcUrls.default.http[0]!;
  const transport = http(rpcUrl);

  return createConnector<DevProvider, DevProperties>((config) => {
    const handle = async ({ method, params }: { method: string; params?: unknown }): Promise<unknown> => {
      const p = (params ?? []) as unknown[];
      switch (method) {
        case "eth_chainId":
          return numberToHex(chain.id);
        case "eth_accounts":
          return connected ? [account().address] : [];
        case "eth_requestAccounts":
          return [account().address];
        case "eth_sendTransaction": {
          const tx = p[0] as RpcTx;
          const wallet = createWalletClient({ account: account(), chain, transport });
          // viem fills nonce, gas and fees from the node, signs locally and calls eth_sendRawTransaction.
          return wallet.sendTransaction({
            to: tx.to,
            data: tx.data,
            value: tx.value ? fromHex(tx.value, "bigint") : undefined,
            gas: tx.gas ? fromHex(tx.gas, "bigint") : undefined,
          } as TransactionRequest & { chain: Chain });
        }
        case "eth_signTypedData_v4": {
          const typed = JSON.parse(p[1] as string) as Parameters<ReturnType<typeof account>["signTypedData"]>[0];
          return account().signTypedData(typed);
        }
        case "personal_sign":
          return account().signMessage({ message: { raw: p[0] as Hex } });
        case "wallet_switchEthereumChain": {
          const wanted = fromHex((p[0] as { chainId: Hex }).chainId, "number");
          if (wanted !== chain.id) throw new Error(`the dev wallet only knows chain ${chain.id}`);
          return null;
        }
        default: {
          const res = await fetch(rpcUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: p }),
          });
          const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
          if (body.error) throw Object.assign(new Error(body.error.message), body.error);
          return body.result;
        }
      }
    };
    // viem's request type is generic over the RPC schema; this handler answers the subset a dapp uses.
    const provider: DevProvider = { request: handle as EIP1193RequestFn };

    return {
      id: "edgepayDevWallet",
      name: "Dev wallet (Hardhat test accounts)",
      type: devWallet.type,
      async connect<withCapabilities extends boolean = false>() {
        connected = true;
        window.localStorage.setItem(`${INDEX_KEY}.connected`, "1");
        return { accounts: [account().address] as never as withCapabilities extends true ? never : readonly Address[], chainId: chain.id };
      },
      async disconnect() {
        connected = false;
        window.localStorage.removeItem(`${INDEX_KEY}.connected`);
      },
      async getAccounts() {
        return [account().address];
      },
      async getChainId() {
        return chain.id;
      },
      async getProvider() {
        return provider;
      },
      async isAuthorized() {
        connected = window.localStorage.getItem(`${INDEX_KEY}.connected`) === "1";
        return connected;
      },
      async switchChain({ chainId }) {
        if (chainId !== chain.id) throw new Error(`the dev wallet only knows chain ${chain.id}`);
        return chain;
      },
      onAccountsChanged(list) {
        if (list.length === 0) this.onDisconnect();
        else config.emitter.emit("change", { accounts: list.map((a) => getAddress(a)) });
      },
      onChainChanged(id) {
        config.emitter.emit("change", { chainId: Number(id) });
      },
      onDisconnect() {
        connected = false;
        config.emitter.emit("disconnect");
      },
      selectAccount(i: number) {
        if (!Number.isInteger(i) || i < 0 || i >= accounts.length) throw new Error(`no test account #${i}`);
        index = i;
        window.localStorage.setItem(INDEX_KEY, String(i));
        if (connected) config.emitter.emit("change", { accounts: [account().address] });
      },
      accountIndex() {
        return index;
      },
    };
  });
}

function readIndex(): number {
  if (typeof window === "undefined") return 0;
  const n = Number(window.localStorage.getItem(INDEX_KEY) ?? 0);
  return Number.isInteger(n) && n >= 0 && n < HARDHAT_DEV_KEYS.length ? n : 0;
}

export const DEV_ACCOUNTS: readonly Address[] = HARDHAT_DEV_KEYS.map((k) => privateKeyToAccount(k).address);
