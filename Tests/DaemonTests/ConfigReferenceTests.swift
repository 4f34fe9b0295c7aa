import AdPilotService
import Foundation
import Testing

/// docs/configuration.md against the config reader itself. The reader refuses an unknown
/// key by listing the keys it accepts in that object, so putting a stray key into every
/// object of a valid config, one at a time, asks the code for its complete key list. The
/// variants below reach the keys that only some choices accept (an accelerated clock, a
/// real platform, a time window, hourly bounds, per-campaign overrides).
@Suite struct ConfigReferenceTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let probe = "zz_reference_probe"

    enum Step { case key(String), index(Int) }

    static func shipped() throws -> [String: Any] {
        let data = try #require(
            FileManager.default.contents(atPath: root.appendingPathComponent("systemd/adpilot.json").path),
            "systemd/adpilot.json not found")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Valid configs that together make the reader ask for every key it knows.
    static func variants() throws -> [(name: String, config: [String: Any])] {
        let base = try shipped()
        func variant(_ name: String, _ edit: (inout [String: Any]) -> Void) -> (String, [String: Any]) {
            var c = base
            edit(&c)
            return (name, c)
        }
        func setting(_ c: inout [String: Any], _ object: String, _ key: String, _ value: Any) {
            var o = c[object] as? [String: Any] ?? [:]
            o[key] = value
            c[object] = o
        }
        return [
            ("shipped", base),
            variant("accelerated clock") { $0["clock"] = ["kind": "accelerated", "speed": 360] },
            variant("tiktok") {
                $0["platform"] = [
                    "kind": "tiktok", "advertiser_id": "7", "currency": "USD", "token_credential": "tiktok-token",
                ]
            },
            variant("meta") {
                $0["platform"] = [
                    "kind": "meta", "ad_account_id": "act_7", "currency": "USD", "token_credential": "meta-token",
                ]
            },
            variant("meta with shopify revenue") {
                $0["platform"] = [
                    "kind": "meta", "ad_account_id": "act_7", "currency": "USD", "token_credential": "meta-token",
                ]
                $0["revenue"] = [
                    "kind": "shopify", "shop_domain": "example.myshopify.com", "currency": "USD",
                    "token_credential": "shopify-token",
                ]
            },
            variant("time window") { setting(&$0, "breaker", "window", ["seconds": 600]) },
            variant("cpa target and overrides") { c in
                var defaults = c["campaign_defaults"] as? [String: Any] ?? [:]
                defaults["efficiency_target"] = ["cpa_micros": 50_000_000]
                var guardrails = defaults["guardrails"] as? [String: Any] ?? [:]
                guardrails["hourly_bounds"] = Array(
                    repeating: ["min_micros": 20_000_000, "max_micros": 1_000_000_000], count: 24)
                defaults["guardrails"] = guardrails
                c["campaign_defaults"] = defaults
                c["campaigns"] = [["id": "sim-00001", "daily_target_micros": 200_000_000]]
                c["canary"] = ["campaigns": ["sim-00001"]]
            },
        ]
    }

    static func parse(_ config: [String: Any]) throws -> Result<ServiceConfig, ConfigProblem> {
        let bytes = Array(try JSONSerialization.data(withJSONObject: config))
        return Result { () throws(ConfigProblem) in try ServiceConfig.parse(bytes: bytes) }
    }

    /// Paths of every JSON object inside `value`, the root included.
    static func objectPaths(_ value: Any, _ path: [Step] = []) -> [[Step]] {
        if let o = value as? [String: Any] {
            return [path] + o.sorted { $0.key < $1.key }.flatMap { objectPaths($0.value, path + [.key($0.key)]) }
        }
        if let a = value as? [Any] {
            return a.enumerated().flatMap { objectPaths($0.element, path + [.index($0.offset)]) }
        }
        return []
    }

    /// `value` with the probe key added to the object at `path`.
    static func injecting(_ value: Any, at path: ArraySlice<Step>) -> Any {
        guard let step = path.first else {
            var o = value as! [String: Any]
            o[probe] = 1
            return o
        }
        switch step {
        case .key(let k):
            var o = value as! [String: Any]
            o[k] = injecting(o[k]!, at: path.dropFirst())
            return o
        case .index(let i):
            var a = value as! [Any]
            a[i] = injecting(a[i], at: path.dropFirst())
            return a
        }
    }

    static func keyPath(_ path: [Step]) -> String {
        path.reduce("") { text, step in
            switch step {
            case .key(let k): return text.isEmpty ? k : "\(text).\(k)"
            case .index: return text + "[]"
            }
        }
    }

    /// Every key path the reader accepts, in docs/configuration.md's notation. Keys of a
    /// `campaigns[]` entry other than `id` are the `campaign_defaults` keys.
    static func acceptedKeyPaths() throws -> Set<String> {
        var accepted = Set<String>()
        for (name, config) in try variants() {
            if case .failure(let p) = try parse(config) {
                Issue.record("variant \"\(name)\" of systemd/adpilot.json does not parse: \(p)")
                continue
            }
            for path in objectPaths(config) {
                let prefix = keyPath(path)
                let result = try parse(injecting(config, at: path[...]) as! [String: Any])
                guard case .failure(let p) = result,
                    p.key.replacing(#/\[\d+\]/#, with: "[]") == (prefix.isEmpty ? probe : "\(prefix).\(probe)"),
                    let list = p.problem.firstMatch(of: #/^unknown key \(allowed(?: here)?: ([^)]*)\)/#)
                else {
                    Issue.record(
                        Comment(rawValue: "variant \"\(name)\": a stray key in "
                            + "`\(prefix.isEmpty ? "(top level)" : prefix)` was not "
                            + "refused as an unknown key (\(result))")
                    )
                    continue
                }
                for key in list.output.1.split(separator: ",") {
                    var full =
                        prefix.isEmpty
                        ? String(key.trimmingCharacters(in: .whitespaces))
                        : "\(prefix).\(key.trimmingCharacters(in: .whitespaces))"
                    if full.hasPrefix("campaigns[]."), full != "campaigns[].id" {
                        full = "campaign_defaults." + full.dropFirst("campaigns[].".count)
                    }
                    accepted.insert(full)
                }
            }
        }
        return accepted
    }

    /// Key paths in the first column of docs/configuration.md's reference tables.
    static func documentedKeyPaths() -> Set<String> {
        let text =
            (try? String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)) ?? ""
        var out = Set<String>()
        var inside = false
        var fenced = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("```") { fenced.toggle(); continue }
            if fenced { continue }
            if line.hasPrefix("## ") { inside = line == "## Reference"; continue }
            if inside, let m = line.firstMatch(of: #/^\|\s*`([^`]+)`\s*\|/#) { out.insert(String(m.output.1)) }
        }
        return out
    }

    @Test func theReferenceListsEveryKeyTheReaderAccepts() throws {
        let accepted = try Self.acceptedKeyPaths()
        #expect(
            accepted.count > 50, "the reader accepted only \(accepted.count) key paths: is the probe still working?")
        let documented = Self.documentedKeyPaths()
        for key in accepted.subtracting(documented).sorted() {
            Issue.record("the config reader accepts `\(key)`, which docs/configuration.md's reference lacks")
        }
    }

    @Test func theReferenceListsNoKeyTheReaderRefuses() throws {
        let accepted = try Self.acceptedKeyPaths()
        let documented = Self.documentedKeyPaths()
        #expect(documented.count > 50, "docs/configuration.md's reference lists only \(documented.count) keys")
        for key in documented.subtracting(accepted).sorted() {
            Issue.record("docs/configuration.md documents `\(key)`, which the config reader does not accept")
        }
    }
}
