import { expect } from "chai";
import path from "node:path";
import { ROOT } from "../../scripts/lib/paths.ts";
import { directScans, directScansOf } from "../../scripts/lib/unpaged-scans.ts";

describe("the dashboard holds no unpaged event scan", () => {
  it("no file under web/ calls getLogs / getContractEvents / getFilterLogs / eth_getLogs directly (paged-logs.ts or the indexer instead)", () => {
    const found = directScans(path.join(ROOT, "web"));
    expect(found.map((f) => `${path.relative(ROOT, f.file)}:${f.line}: ${f.text}`)).to.deep.equal([]);
  });

  it("finds each form of a direct scan (the check can fail), and not the paged helper or comments", () => {
    const source = [
      `const a = await client.getLogs({ address, fromBlock: 0n });`,
      `const b = await client.getContractEvents({ abi, eventName: "Claimed" });`,
      `const c = await publicClient.getFilterLogs({ filter });`,
      `await rpc(url, "eth_getLogs", [params]);`,
      `const d = await getContractEvents(client, { abi });`,
      `const e = await getContractEventsPaged(client, { abi }, { fromBlock });`,
      `// client.getLogs(...) in a comment`,
    ].join("\n");
    expect(directScansOf("x.ts", source).map((f) => f.line)).to.deep.equal([1, 2, 3, 4, 5]);
  });
});
