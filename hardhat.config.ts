import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatIgnitionEthers from "@nomicfoundation/hardhat-ignition-ethers";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatMocha, hardhatEthers, hardhatEthersChaiMatchers, hardhatNetworkHelpers, hardhatIgnitionEthers],
  solidity: {
    // The WASM compiler from the npm `solc` package: no compiler download, works offline.
    version: "0.8.37",
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 10_000 },
    },
  },
  paths: {
    tests: {
      mocha: "test/contracts",
      solidity: "test/solidity",
    },
  },
  test: {
    solidity: {
      fuzz: { runs: 1024 },
      // failOnRevert: the invariant handler checks every call's exact outcome and reverts on a mismatch.
      invariant: { runs: 256, depth: 64, failOnRevert: true },
    },
  },
  networks: {
    localhost: {
      type: "http",
      chainType: "l1",
      url: `http://127.0.0.1:${process.env.CHAIN_PORT ?? "8545"}`,
    },
    // Any EVM network is one entry like this; set the variables with `npx hardhat keystore set NAME`
    // or the environment, never in this file.
    remote: {
      type: "http",
      chainType: "l1",
      url: configVariable("EDGEPAY_RPC_URL"),
      accounts: [configVariable("EDGEPAY_DEPLOYER_KEY")],
    },
  },
});
