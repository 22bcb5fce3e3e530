import { beforeAll, describe, expect, it } from "vitest";
import { destinationUrlRefusal, urlRefusal } from "../../src/notifications/url-safety";
import { call, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

const strict = { allowLoopback: false };
const local = { allowLoopback: true };

const REFUSED: [url: string, why: string][] = [
  ["http://hooks.receiver.invalid/in", "plain http"],
  ["ftp://hooks.receiver.invalid/in", "not http(s)"],
  ["file:///etc/passwd", "file scheme"],
  ["https://user:secret@hooks.receiver.invalid/in", "credentials"],
  ["https://:secret@hooks.receiver.invalid/in", "password only"],
  ["https://127.0.0.1/", "loopback"],
  ["https://127.9.8.7:8443/", "loopback /8"],
  ["https://localhost/", "localhost"],
  ["https://api.localhost/", "*.localhost"],
  ["https://localhost./", "localhost with a trailing dot"],
  ["https://2130706433/", "decimal IPv4 loopback"],
  ["https://0x7f000001/", "hex IPv4 loopback"],
  ["https://0177.0.0.1/", "octal IPv4 loopback"],
  ["https://127.1/", "short IPv4 loopback"],
  ["https://0xa9.0xfe.0xa9.0xfe/", "hex octets of the metadata address"],
  ["https://3232235777/", "decimal 192.168.1.1"],
  ["https://0.0.0.0/", "this network"],
  ["https://10.1.2.3/", "private 10/8"],
  ["https://172.16.0.1/", "private 172.16/12"],
  ["https://172.31.255.254/", "private 172.16/12 upper end"],
  ["https://192.168.1.1/", "private 192.168/16"],
  ["https://169.254.169.254/latest/meta-data/", "cloud metadata (link-local)"],
  ["https://100.64.0.1/", "CGNAT"],
  ["https://100.100.100.200/", "Alibaba metadata (CGNAT)"],
  ["https://192.0.2.10/", "documentation"],
  ["https://198.18.0.1/", "benchmarking"],
  ["https://224.0.0.1/", "multicast"],
  ["https://255.255.255.255/", "broadcast"],
  ["https://[::1]/", "IPv6 loopback"],
  ["https://[0:0:0:0:0:0:0:1]/", "IPv6 loopback, long form"],
  ["https://[::]/", "IPv6 unspecified"],
  ["https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"],
  ["https://[::ffff:a9fe:a9fe]/", "IPv4-mapped metadata, hex"],
  ["https://[::ffff:10.0.0.1]/", "IPv4-mapped private"],
  ["https://[::127.0.0.1]/", "IPv4-compatible loopback"],
  ["https://[64:ff9b::a9fe:a9fe]/", "NAT64 of the metadata address"],
  ["https://[2002:c0a8:0101::1]/", "6to4 of 192.168.1.1"],
  ["https://[fe80::1]/", "IPv6 link-local"],
  ["https://[fd00:ec2::254]/", "AWS IPv6 metadata (unique local)"],
  ["https://[fc00::1]/", "IPv6 unique local"],
  ["https://[ff02::1]/", "IPv6 multicast"],
  ["https://[2001:db8::1]/", "IPv6 documentation"],
  ["https://[2001::1]/", "Teredo"],
  ["https://168.63.129.16/", "Azure wire server"],
  ["https://[64:ff9b:1::a00:1]/", "NAT64 local-use prefix"],
  ["https://[fec0::1]/", "IPv6 site-local (deprecated)"],
  ["https://metadata.google.internal/computeMetadata/v1/", "GCP metadata name"],
  ["https://instance-data/latest/", "AWS metadata name"],
  ["https://db.internal/", ".internal name"],
  ["https://printer.local/", "mDNS name"],
  ["https://intranet/hook", "single-label host"],
  [`https://hooks.receiver.invalid/${"a".repeat(2100)}`, "too long"],
  ["not a url", "unparseable"],
];

const ALLOWED = [
  "https://hooks.slack.com/services/T000/B000/XXXX",
  "https://hooks.receiver.invalid:8443/path?query=1",
  "https://8.8.8.8/hook",
  "https://100.128.0.1/", // just past CGNAT
  "https://172.32.0.1/", // just past 172.16/12
  "https://[2606:4700:4700::1111]/",
  "https://[::ffff:8.8.8.8]/",
  "https://[64:ff9b::808:808]/", // NAT64 of 8.8.8.8
  "https://[2002:808:808::1]/", // 6to4 of 8.8.8.8
];

describe("URL safety", () => {
  it(`has a table of ${REFUSED.length} refused URLs`, () => {
    expect(REFUSED.length).toBeGreaterThanOrEqual(20);
  });

  it.each(REFUSED)("refuses %s (%s) on save with a 400 on url", async (url) => {
    expect(urlRefusal(url, strict)).not.toBeNull();
    const res = await call(`/api/projects/${owner.projectId}/destinations/`, {
      key: owner.key,
      body: { name: "SSRF", type: "webhook", url, events: ["change_request_created"] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: "validation_error", attr: "url" });
  });

  it.each(ALLOWED)("allows %s", (url) => {
    expect(urlRefusal(url, strict)).toBeNull();
  });

  describe("Slack destinations: Slack incoming webhooks only (their bodies are unsigned)", () => {
    it.each([
      "https://hooks.receiver.invalid/services/T/B/x",
      "https://hooks.slack.com.evil.example/services/T/B/x",
      "https://slack.com/services/T/B/x",
      "http://hooks.slack.com/services/T/B/x",
      "https://hooks.slack.com:8443/services/T/B/x",
    ])("refuses %s with a 400 on url, on create and update", async (url) => {
      expect(destinationUrlRefusal("slack", url, local)).not.toBeNull();
      const path = `/api/projects/${owner.projectId}/destinations/`;
      const created = await call(path, { key: owner.key, body: { name: "Slack", type: "slack", url, events: ["change_request_created"] } });
      expect(created.status).toBe(400);
      expect(created.body).toMatchObject({ type: "validation_error", attr: "url", detail: expect.stringMatching(/https/) });
      const slack = await call(path, {
        key: owner.key,
        body: { name: "Slack", type: "slack", url: "https://hooks.slack.com/services/T/B/ok", events: ["change_request_created"] },
      });
      expect(slack.status).toBe(201);
      const patched = await call(`${path}${slack.body.id}/`, { key: owner.key, method: "PATCH", body: { url } });
      expect(patched.status).toBe(400);
      expect(patched.body).toMatchObject({ attr: "url" });
    });

    it("takes hooks.slack.com, and loopback only when ALLOW_LOOPBACK_DESTINATIONS is on", () => {
      expect(destinationUrlRefusal("slack", "https://hooks.slack.com/services/T0/B0/x", strict)).toBeNull();
      expect(destinationUrlRefusal("slack", "https://hooks.slack.com/workflows/T0/A0/1/x", strict)).toBeNull();
      expect(destinationUrlRefusal("slack", "http://127.0.0.1:9999/slack", local)).toBeNull();
      expect(destinationUrlRefusal("slack", "http://127.0.0.1:9999/slack", strict)).toMatch(/loopback/);
      expect(destinationUrlRefusal("webhook", "https://hooks.receiver.invalid/in", strict)).toBeNull();
    });

    it("refuses a Slack link of a logs alert to another host", async () => {
      const alert = await call(`/api/projects/${owner.projectId}/logs/alerts/`, {
        key: owner.key,
        body: { name: "Slack only", threshold_count: 1, filters: { severityLevels: ["error"] } },
      });
      expect(alert.status).toBe(201);
      const res = await call(`/api/projects/${owner.projectId}/logs/alerts/${alert.body.id}/destinations/`, {
        key: owner.key,
        body: { type: "slack", webhook_url: "https://hooks.receiver.invalid/slack" },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ type: "validation_error", attr: "webhook_url" });
    });
  });

  it("allows loopback, and only loopback, over http when ALLOW_LOOPBACK_DESTINATIONS is on", () => {
    for (const url of ["http://127.0.0.1:9999/hook", "http://localhost:3000/in", "https://[::1]:8443/", "http://2130706433/"]) {
      expect(urlRefusal(url, local)).toBeNull();
      expect(urlRefusal(url, strict)).toMatch(/loopback/);
    }
    for (const url of ["http://10.0.0.1/", "http://169.254.169.254/", "http://hooks.receiver.invalid/", "http://user:pw@127.0.0.1/"]) {
      expect(urlRefusal(url, local)).not.toBeNull();
    }
  });
});
