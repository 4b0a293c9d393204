// `npm run deploy:local`: deploys TestUSDC + the marketplace with Hardhat Ignition to the chain started by
// `npm run chain`, then regenerates protocol/generated/contracts.ts with the new addresses.
import { spawnSync } from "node:child_process";
import { deployLocal } from "./lib/deploy.ts";
import { rpc } from "./lib/chain.ts";
import { ROOT } from "./lib/paths.ts";

const port = Number(process.env.CHAIN_PORT ?? 8545);
try {
  await rpc(`http://127.0.0.1:${port}`, "eth_chainId");
} catch {
  console.error(`deploy:local: no chain answers on 127.0.0.1:${port}. Start one with \`npm run chain\` (or set CHAIN_PORT).`);
  process.exit(1);
}
console.log(`deploying to 127.0.0.1:${port} with Hardhat Ignition...`);
const deployment = await deployLocal({ rpcPort: port, deploymentId: "local", log: (l) => console.log(`  ${l}`) });
for (const [k, v] of Object.entries(deployment)) console.log(`  ${k.padEnd(16)} ${v}`);
const codegen = spawnSync(process.execPath, ["scripts/codegen.ts"], { cwd: ROOT, stdio: "inherit" });
process.exit(codegen.status ?? 1);
