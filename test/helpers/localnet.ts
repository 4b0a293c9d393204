// A real local chain for integration tests: `hardhat node` on a free 127.0.0.1 port with the contracts deployed
// by Hardhat Ignition. Each suite gets its own chain and deployment id, removed again in `stop()`.
import { randomBytes } from "node:crypto";
import { createPublicClient, createWalletClient, http, type Chain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { freePort, startChain, type RunningChain } from "../../scripts/lib/chain.ts";
import { deployLocal, forgetDeployment, type DeployParameters, type LocalDeployment } from "../../scripts/lib/deploy.ts";

/** Hardhat's well-known test keys (public knowledge; local chains only). */
export const TEST_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
] as const;

export interface Localnet {
  chain: RunningChain;
  deployment: LocalDeployment;
  viemChain: Chain;
  stop(): Promise<void>;
}

/** Starts a chain on a free port and deploys the local module. */
export async function startLocalnet(parameters?: DeployParameters): Promise<Localnet> {
  const chain = await startChain({ port: await freePort() });
  const deploymentId = `test-${chain.port}-${randomBytes(4).toString("hex")}`;
  try {
    const deployment = await deployLocal({ rpcPort: chain.port, deploymentId, parameters });
    const viemChain = { ...hardhat, rpcUrls: { default: { http: [chain.url] } } } as Chain;
    return {
      chain,
      deployment,
      viemChain,
      stop: async () => {
        await chain.stop();
        await forgetDeployment(deploymentId);
      },
    };
  } catch (error) {
    await chain.stop();
    await forgetDeployment(deploymentId);
    throw error;
  }
}

/** viem clients for test key `index` on a localnet. */
export function clientsFor(net: Localnet, index: number) {
  const account = privateKeyToAccount(TEST_KEYS[index]!);
  const transport = http(net.chain.url);
  return {
    account,
    publicClient: createPublicClient({ chain: net.viemChain, transport }),
    walletClient: createWalletClient({ account, chain: net.viemChain, transport }),
  };
}
