import { describe, expect, it } from "vitest";
import { ipRanges } from "../../src/activity/activity.queries";

describe("ipRanges", () => {
  it("turns exact values and trailing wildcards into index ranges", () => {
    expect(ipRanges(["10.0.0.1", "192.168.*"])).toEqual([
      { lo: "10.0.0.1", hi: null },
      { lo: "192.168.", hi: "192.168.\u{10FFFF}" },
    ]);
    expect(ipRanges(["2001:db8::1"])).toEqual([{ lo: "2001:db8::1", hi: null }]);
  });

  it("leaves inner wildcards, a bare * and prefixes with letters to the row test", () => {
    expect(ipRanges(["10.*.0.1"])).toBeNull();
    expect(ipRanges(["10.0.0.1", "*"])).toBeNull();
    expect(ipRanges(["2001:DB8:*"])).toBeNull();
  });
});
