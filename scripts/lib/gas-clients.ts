// viem clients for a gas section run on Hardhat's in-process chain (an EIP-1193 provider), with the two waits every
// section needs: a transaction that must succeed, and a deployment's address.
import { createPublicClient, createWalletClient, custom, type Address, type EIP1193Provider, type Hex, type PrivateKeyAccount } from "viem";
import { hardhat } from "viem/chains";

export function gasClients(provider: EIP1193Provider) {
  const transport = custom(provider);
  const publicClient = createPublicClient({ chain: hardhat, transport });
  const wallet = (account: PrivateKeyAccount) => createWalletClient({ account, chain: hardhat, transport });
  const mined = async (hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    return receipt;
  };
  const deploy = async (hash: Hex): Promise<Address> => {
    const address = (await mined(hash)).contractAddress;
    if (!address) throw new Error("deployment without an address");
    return address;
  };
  return { publicClient, wallet, mined, deploy };
}
