// An injected EIP-6963 test wallet for Playwright: an EIP-1193 provider that forwards JSON-RPC to the Hardhat
// node (whose accounts are unlocked, so the node itself signs) and announces itself like a browser extension.
// It reports no account until eth_requestAccounts, as a real wallet does, so wagmi shows its connect flow; the grant
// is remembered per origin like an extension's.
// `window.__edgepayTestWallet.rejectNext = true` makes the next signing request fail with EIP-1193 code 4001;
// `window.__edgepayTestWallet.setAccount(address)` switches accounts (the node has every test account unlocked).
import type { BrowserContext } from "playwright-core";

export const TEST_WALLET_NAME = "Edgepay Test Wallet";

export async function injectTestWallet(context: BrowserContext, args: { rpcUrl: string; account: string; chainId: number }) {
  await context.addInitScript(
    ({ rpcUrl, account: initial, chainId, name }) => {
      let account = initial;
      // Like a real extension, the wallet remembers that this origin was allowed (across reloads and navigation).
      const GRANT = "__edgepayTestWallet.authorized";
      let authorized = window.localStorage.getItem(GRANT) === "1";
      const grant = (on: boolean) => {
        authorized = on;
        if (on) window.localStorage.setItem(GRANT, "1");
        else window.localStorage.removeItem(GRANT);
      };
      const listeners: Record<string, ((arg: unknown) => void)[]> = {};
      const emit = (event: string, arg: unknown) => (listeners[event] ?? []).forEach((f) => f(arg));
      const control = {
        rejectNext: false,
        requests: [] as string[],
        /** Switches the wallet's account, as a person does in an extension (emits accountsChanged). */
        setAccount(next: string) {
          account = next;
          emit("accountsChanged", [next]);
        },
      };
      const signing = new Set(["eth_sendTransaction", "eth_signTypedData_v4", "personal_sign", "eth_sign"]);
      const provider = {
        async request({ method, params }: { method: string; params?: unknown[] }): Promise<unknown> {
          control.requests.push(method);
          if (signing.has(method) && control.rejectNext) {
            control.rejectNext = false;
            throw Object.assign(new Error("User rejected the request."), { code: 4001 });
          }
          switch (method) {
            case "eth_requestAccounts":
              grant(true);
              emit("accountsChanged", [account]);
              return [account];
            case "eth_accounts":
              return authorized ? [account] : [];
            case "eth_chainId":
              return `0x${chainId.toString(16)}`;
            case "wallet_switchEthereumChain":
              return null;
            case "wallet_requestPermissions":
              grant(true);
              return [{ parentCapability: "eth_accounts" }];
            case "wallet_getPermissions":
              return authorized ? [{ parentCapability: "eth_accounts" }] : [];
            case "wallet_revokePermissions":
              grant(false);
              return null;
          }
          const res = await fetch(rpcUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: Date.now(), method, params: params ?? [] }),
          });
          const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
          if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
          return body.result;
        },
        on(event: string, f: (arg: unknown) => void) {
          (listeners[event] ??= []).push(f);
          return provider;
        },
        removeListener(event: string, f: (arg: unknown) => void) {
          listeners[event] = (listeners[event] ?? []).filter((x) => x !== f);
          return provider;
        },
      };
      const info = {
        uuid: "6d2f3c4e-0000-4000-8000-edge9a7e5700",
        name,
        icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='16' height='16'%3E%3Crect width='16' height='16' fill='%235aa9ff'/%3E%3C/svg%3E",
        rdns: "dev.edgepay.testwallet",
      };
      const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
      window.addEventListener("eip6963:requestProvider", announce);
      announce();
      (window as unknown as { __edgepayTestWallet: typeof control }).__edgepayTestWallet = control;
    },
    { ...args, name: TEST_WALLET_NAME },
  );
}
