// A real local chain for integration tests: `hardhat node` on a free 127.0.0.1 port with the contracts deployed
// by Hardhat Ignition. Each suite gets its own chain and deployment id, removed again in `stop()`.
import { randomBytes } from "node:crypto";
import { createPublicClient, createWalletClient, http, type Chain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";
import { freePort, startChain, type RunningChain } from "./chain.ts";
import { deployLocal, forgetDeployment, type DeployParameters, type LocalDeployment } from "./deploy.ts";

/** Hardhat's well-known test keys (public knowledge; local chains only). */
export const TEST_KEYS = HARDHAT_DEV_KEYS;

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
