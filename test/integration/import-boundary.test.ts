import { expect } from "chai";
import path from "node:path";
import { forbiddenImports, forbiddenImportsOf, moduleSpecifiers } from "../../scripts/lib/import-boundary.ts";
import { ROOT } from "../../scripts/lib/paths.ts";

describe("scripts do not import from test/", () => {
  const scripts = path.join(ROOT, "scripts");
  const test = path.join(ROOT, "test");

  it("no file under scripts/ imports anything under test/", () => {
    const found = forbiddenImports(scripts, test);
    expect(found.map((f) => `${path.relative(ROOT, f.file)} imports ${f.specifier}`)).to.deep.equal([]);
  });

  it("finds every form of import that reaches test/ (the check can fail)", () => {
    const file = path.join(scripts, "lib", "x.ts");
    const source = [
      `import { a } from "../../test/helpers/a.ts";`,
      `export * from '../../test/b.ts';`,
      `import "../../test/side-effect.ts";`,
      `const c = await import("../../test/c.ts");`,
      `const d = require("../../test");`,
      `import e from "../../testing/e.ts";`,
      `import f from "./test/f.ts";`,
      `import g from "node:test";`,
    ].join("\n");
    const found = forbiddenImportsOf(file, source, test).map((f) => f.specifier);
    expect(found).to.have.members(["../../test/helpers/a.ts", "../../test/b.ts", "../../test/side-effect.ts", "../../test/c.ts", "../../test"]);
    // A sibling whose name only starts with "test", a scripts/lib/test folder and a node builtin are not the test tree.
    expect(found).to.not.include("../../testing/e.ts");
    expect(found).to.not.include("./test/f.ts");
  });

  it("reads specifiers with either quote and spacing", () => {
    expect(moduleSpecifiers(`import{x}from'./a.ts'\nimport ( "./b.ts" )\nexport { y } from "./c.ts"`)).to.have.members(["./a.ts", "./b.ts", "./c.ts"]);
  });
});
