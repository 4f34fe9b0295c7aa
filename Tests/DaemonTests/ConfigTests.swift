import AdPilotCore
import AdPilotService
import AdPilotControl
import AdPilotPlatforms
import AdPilotTestSupport
import Foundation
import Testing

/// The config loader refuses what it cannot honour exactly, naming the key.
@Suite struct ConfigTests {
    func parse(_ edit: (inout [String: Any]) -> Void) -> Result<ServiceConfig, ConfigProblem> {
        var c = try! JSONSerialization.jsonObject(with: Data(DefaultConfig.text.utf8)) as! [String: Any]
        edit(&c)
        let bytes = Array(try! JSONSerialization.data(withJSONObject: c))
        return Result { () throws(ConfigProblem) in try ServiceConfig.parse(bytes: bytes) }
    }

    func problem(_ edit: (inout [String: Any]) -> Void) -> String? {
        if case .failure(let p) = parse(edit) { return p.description }
        return nil
    }

    /// The reload predicate: what SIGHUP may change in place, and what needs a restart.
    @Test func reloadNeedsARestartOnlyForPlatformClockGroupAndJournal() throws {
        let base = try parse { _ in }.get()
        #expect(base.restartRequired(from: base).isEmpty)
        let tuned = try parse { c in
            var a = c["account"] as! [String: Any]
            a["daily_cap_micros"] = 1_000_000
            c["account"] = a
            c["tick_seconds"] = 60
        }.get()
        #expect(tuned.restartRequired(from: base).isEmpty, "caps and tick length reload in place")
        let moved = try parse { c in
            c["operators_group"] = "wheel"
            var j = c["journal"] as! [String: Any]
            j["seal_interval"] = 10
            c["journal"] = j
            var p = c["platform"] as! [String: Any]
            p["seed"] = 9
            c["platform"] = p
        }.get()
        #expect(moved.restartRequired(from: base) == ["platform", "operators_group", "journal.seal_interval"])
    }

    /// Issue 15, item 12: Shopify as the revenue source, in the ad account's currency.
    @Test func aShopIsTheRevenueSourceInTheAccountsCurrency() throws {
        func tiktok(_ c: inout [String: Any], revenue: Any) {
            c["clock"] = ["kind": "system"]
            c["platform"] = [
                "kind": "tiktok", "advertiser_id": "7000001", "currency": "EUR", "token_credential": "tiktok-token",
            ]
            c["revenue"] = revenue
        }
        let shop: [String: Any] = [
            "kind": "shopify", "shop_domain": "example.myshopify.com", "currency": "EUR",
            "token_credential": "shopify-token", "campaign_parameter": "utm_content",
        ]
        let c = try parse { tiktok(&$0, revenue: shop) }.get()
        guard case .shopify(let s, let credential)? = c.revenue else {
            Issue.record("\(String(describing: c.revenue))")
            return
        }
        #expect(s.campaignParameter == "utm_content" && credential == "shopify-token" && s.currency == .eur)
        #expect(try parse { tiktok(&$0, revenue: NSNull()) }.get().revenue == nil, "null: the ad platform's value")
        var usd = shop
        usd["currency"] = "USD"
        #expect(problem { tiktok(&$0, revenue: usd) }?.hasPrefix("revenue.currency: USD differs from") == true)
        var meta = shop
        meta["kind"] = "meta"
        #expect(problem { tiktok(&$0, revenue: meta) }?.hasPrefix("revenue.kind:") == true)
        #expect(problem { $0["revenue"] = shop }?.hasPrefix("revenue: the simulator is its own shop") == true)
        let other = shop.merging(["shop_domain": "b.myshopify.com"]) { _, b in b }
        let changed = try parse { tiktok(&$0, revenue: other) }.get()
        #expect(changed.restartRequired(from: c) == ["revenue"])
    }

    /// Issue 17: exploration's law is chosen by name; an old configuration without the key
    /// keeps the log-normal, and an unknown name is refused with its key.
    @Test func explorationNamesItsDistribution() throws {
        #expect(try parse { _ in }.get().exploration.distribution == .lognormal)
        let uniform = try parse { $0["exploration"] = ["scale": 0.1, "seed": 2, "distribution": "loguniform"] }.get()
        #expect(uniform.exploration == ExplorationConfig(scale: 0.1, seed: 2, distribution: .loguniform))
        #expect(problem { $0["exploration"] = ["scale": 0.1, "seed": 2, "distribution": "cauchy"] }
            == #"exploration.distribution: must be "lognormal" or "loguniform""#)
        #expect(try parse { $0["exploration"] = NSNull() }.get().exploration == .off)
    }

    @Test func theEmbeddedDefaultParses() throws {
        let c = try DefaultConfig.demo(campaigns: 7, speed: 60)
        #expect(c.platform == .simulator(seed: 1, campaigns: 7) && c.clock == .accelerated(speed: 60))
        #expect(c.initialLive == nil && c.initialCandidate?.description == "qlearn@1")
        let writing = try DefaultConfig.demo(overlay: DefaultConfig.liveWritingOverlay)
        #expect(
            writing.initialLive?.description == "pace@1" && writing.campaignDefaults.guardrails.cooldownSeconds == 0)
        #expect(throws: ConfigProblem.self) {
            try DefaultConfig.demo(overlay: #"{"slots": {"live": "pace@1", "spare": 1}}"#)
        }
    }

    @Test func oneEfficiencyTargetAtATimeAndOverridesReplaceIt() throws {
        #expect(
            problem { c in
                var d = c["campaign_defaults"] as! [String: Any]
                d["efficiency_target"] = ["roas": 2, "cpa_micros": 5_000_000]
                c["campaign_defaults"] = d
            } == "campaign_defaults.efficiency_target: give one of roas or cpa_micros, not both")
        let config = try parse { c in c["campaigns"] = [["id": "c1", "efficiency_target": ["cpa_micros": 20_000_000]]] }
            .get()
        #expect(config.campaign(CampaignID("c1"), currency: .usd).efficiencyTarget == .cpa(Micros(20_000_000)))
        #expect(config.campaign(CampaignID("c2"), currency: .usd).efficiencyTarget == .roas(2))
    }

    @Test func wrongTypesAndAmbiguitiesAreRefusedWithTheirPath() {
        #expect(
            problem { c in
                var b = c["breaker"] as! [String: Any]
                b["window"] = ["calls": 20, "seconds": "garbage"]
                c["breaker"] = b
            } == "breaker.window: give one of calls or seconds, not both")
        #expect(
            problem { c in c["platform"] = ["kind": "simulator", "seed": "abc"] }
                == "platform.seed: must be a whole number")
        #expect(
            problem { c in c["platform"] = ["kind": "simulator", "campaigns": [1]] }
                == "platform.campaigns: must be a whole number")
        #expect(problem { c in c["tick_seconds"] = 1.5 } == "tick_seconds: must be a whole number")
        #expect(
            problem { c in
                var a = c["account"] as! [String: Any]
                a["daily_cap_micros"] = 10.5
                c["account"] = a
            } == "account.daily_cap_micros: must be a whole number of micros (1/1,000,000 of the currency unit)")
        #expect(
            problem { c in c["campaigns"] = [["id": "x", "guardrails": ["cooldown_secs": 5]]] }?
                .hasPrefix("campaigns[0].guardrails.cooldown_secs: unknown key") == true)
        #expect(
            problem { c in c["campaigns"] = [["id": "x"], ["id": "x"]] }
                == "campaigns[1].id: campaign x is listed twice")
        #expect(
            problem { c in c["campaigns"] = [["id": String(repeating: "9", count: 129)]] }
                == "campaigns[0].id: a campaign id has 1 to 128 bytes; this one has 129")
        // A key this version retired names its replacement.
        func canaryGate(_ key: String, _ value: Double) -> String? {
            problem { c in
                var g = c["gates"] as! [String: Any]
                var l = g["canary_to_live"] as! [String: Any]
                l[key] = value
                g["canary_to_live"] = l
                c["gates"] = g
            }
        }
        #expect(
            canaryGate("roas_margin_max", 0.1)?.hasPrefix("gates.canary_to_live.roas_margin_max: no longer used")
                == true)
        #expect(canaryGate("alpha", 0.9)?.hasPrefix("gates.canary_to_live.alpha:") == true)
        // --check-config must refuse what the daemon would refuse at start-up.
        #expect(
            problem { c in
                c["clock"] = ["kind": "system"]
                c["platform"] = [
                    "kind": "shopify", "shop_domain": "acme.myshopify.com", "currency": "USD", "token_credential": "s",
                ]
            } == "platform.kind: shopify is a revenue source, not an ad platform: configure tiktok, meta or simulator")
    }

    @Test func aConfigThatCannotBeJournaledIsRefused() {
        let p = problem { c in
            c["campaigns"] = (0..<20_000).map { ["id": "campaign-\($0)", "daily_target_micros": 100_000_000] }
        }
        #expect(p?.contains("a config must fit one journal record") == true, "\(p ?? "accepted")")
    }
}
