// `npm run chain`: a Hardhat node on 127.0.0.1:$CHAIN_PORT (8545 by default), until Ctrl-C.
import { startChain } from "./lib/chain.ts";
import { watchLauncher } from "./lib/processes.ts";

const port = Number(process.env.CHAIN_PORT ?? 8545);
try {
  const chain = await startChain({ port, quiet: false });
  console.log(`\nchain ready on ${chain.url} (chain id 31337). Next: npm run deploy:local`);
  const stop = () => void chain.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // A SIGTERM to `npm run chain` stops npm's `sh -c` without reaching us: watch npm too.
  watchLauncher(stop);
  chain.process.once("exit", (code) => process.exit(code ?? 0));
} catch (error) {
  console.error(`chain: ${(error as Error).message}`);
  process.exit(1);
}
