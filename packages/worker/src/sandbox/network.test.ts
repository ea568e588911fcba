import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { slirpNetwork } from "./network.js";

const v4 = (address: string, cidr: string) => ({ address, cidr, family: "IPv4" });
const v6 = (address: string) => ({ address, cidr: `${address}/64`, family: "IPv6" });

describe("slirpNetwork: a private network no address of the host is in", () => {
  it("takes 10.0.2.0/24 and IPv6 where the host has neither", () => {
    assert.deepEqual(
      slirpNetwork([v4("127.0.0.1", "127.0.0.1/8"), v4("192.0.2.10", "192.0.2.10/24"), v6("2001:db8::5")]),
      {
        cidr: "10.0.2.0/24",
        ipv6: true,
      },
    );
  });
  it("moves off a /24 the host's network covers, or overlaps", () => {
    assert.equal(slirpNetwork([v4("10.0.2.15", "10.0.2.15/24")]).cidr, "10.217.0.0/24");
    assert.equal(slirpNetwork([v4("10.9.9.9", "10.0.0.0/8")]).cidr, "172.31.254.0/24");
    assert.equal(
      slirpNetwork([v4("10.0.0.1", "10.0.0.0/8"), v4("172.31.254.1", "172.31.0.0/16")]).cidr,
      "192.168.254.0/24",
    );
  });
  it("turns IPv6 off where the host has an address in fd00::/64 (slirp4netns's fixed prefix)", () => {
    assert.equal(slirpNetwork([v6("fd00::2")]).ipv6, false);
    assert.equal(slirpNetwork([v6("fd00:0:0:0:fc:ff:fe00:1")]).ipv6, false);
    assert.equal(slirpNetwork([v6("fd00:0:0:1::2")]).ipv6, true);
    assert.equal(slirpNetwork([v6("fe80::1")]).ipv6, true);
  });
});
