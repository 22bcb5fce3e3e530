import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { R2ChunkedWriter } from "../../src/exports/r2-chunked-writer";
import { csvWriter, guardFormula } from "../../src/exports/writers";

describe("formula guard", () => {
  it.each(["=1+1", "+cmd", "@x", "-x", "-1+1", '=HYPERLINK("http://x")', "\tx", "\uFF1D1+1"])("guards %j", (text) => {
    expect(guardFormula(text)).toBe(`'${text}`);
  });

  it.each(["-42", "+42", "-0.5", "1e-3", "-1E+6", "42", "x=1", "", "name@example.com"])("leaves %j alone", (text) => {
    expect(guardFormula(text)).toBe(text);
  });
});

describe("CSV writer", () => {
  it("writes a BOM, CRLF records, quoted fields, numbers as they are and guarded text", async () => {
    const sink = new R2ChunkedWriter(env.EXPORTS_BUCKET, "test/writer.csv", { contentType: "text/csv" });
    const writer = csvWriter(sink, [
      { name: "name", type: "text" },
      { name: "n", type: "number" },
      { name: "ok", type: "text" },
    ]);
    await writer.rows([
      ['Zoë, "the" admin', -42, true],
      ["=1+1", null, false],
    ]);
    await writer.rows([["-42", 3.5, null]]);
    await writer.finish();
    await sink.close();
    const bytes = new Uint8Array(await (await env.EXPORTS_BUCKET.get("test/writer.csv"))!.arrayBuffer());
    expect(new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes)).toBe(
      '\uFEFFname,n,ok\r\n"Zoë, ""the"" admin",-42,true\r\n\'=1+1,,false\r\n-42,3.5,\r\n',
    );
  });

  it("writes the header alone for an empty export", async () => {
    const sink = new R2ChunkedWriter(env.EXPORTS_BUCKET, "test/empty.csv", { contentType: "text/csv" });
    const writer = csvWriter(sink, [{ name: "a", type: "text" }]);
    await writer.finish();
    await sink.close();
    const text = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(
      await (await env.EXPORTS_BUCKET.get("test/empty.csv"))!.arrayBuffer(),
    );
    expect(text).toBe("\uFEFFa\r\n");
  });
});
