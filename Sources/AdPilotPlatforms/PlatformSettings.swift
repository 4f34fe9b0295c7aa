import AdPilotCore

/// A platform's configuration as it appears in the config file. Tokens are never here:
/// only the name of the credential that holds one (`$CREDENTIALS_DIRECTORY/<name>`).
package enum PlatformSettings: Equatable, Sendable {
    case simulator(seed: UInt64, campaigns: Int)
    case tiktok(TikTokConfig, tokenCredential: String)
    case meta(MetaConfig, tokenCredential: String)
    case shopify(ShopifyConfig, tokenCredential: String)

    package struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        package let key: String
        package let problem: String
        package var description: String { "\(key): \(problem)" }
    }

    static let secretKeys: Set<String> = ["token", "access_token", "api_key", "secret", "password"]

    /// Parses and validates one platform object; every problem names its key under `path`.
    package static func parse(_ json: JSON, path: String) -> Result<PlatformSettings, Problem> {
        func problem(_ key: String, _ text: String) -> Result<PlatformSettings, Problem> {
            .failure(Problem(key: key.isEmpty ? path : "\(path).\(key)", problem: text))
        }
        guard case .object(let members) = json else { return problem("", "must be an object") }
        guard let kind = json["kind"]?.string else {
            return problem("kind", "required: simulator, tiktok, meta or shopify")
        }
        let allowed: Set<String>
        switch kind {
        case "simulator": allowed = ["kind", "seed", "campaigns"]
        case "tiktok":
            allowed = ["kind", "base_url", "advertiser_id", "currency", "utc_offset_seconds", "token_credential"]
        case "meta":
            allowed = ["kind", "base_url", "ad_account_id", "currency", "utc_offset_seconds", "token_credential"]
        case "shopify":
            allowed = ["kind", "base_url", "shop_domain", "currency", "campaign_parameter", "token_credential"]
        default:
            return problem(
                "kind", "unknown platform \"\(kind.prefix(40))\": expected simulator, tiktok, meta or shopify")
        }
        for (key, _) in members where !allowed.contains(key) {
            if secretKeys.contains(key) {
                return problem(
                    key,
                    "tokens never go in the config file: put the token in a credential and name it in token_credential")
            }
            return problem(key, "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        // A key that is present must have the right type: never a silent default.
        for key in ["seed", "campaigns", "utc_offset_seconds"] {
            if let v = json[key], case .number = v, v.int64 != nil { continue }
            if json[key] != nil { return problem(key, "must be a whole number") }
        }
        for key in ["base_url", "currency", "shop_domain", "campaign_parameter", "token_credential"]
        where json[key] != nil && json[key]?.string == nil {
            return problem(key, "must be a string")
        }
        var seen = Set<String>()
        for (key, _) in members where !seen.insert(key).inserted { return problem(key, "duplicate key") }
        if kind == "simulator" {
            let seed = json["seed"]?.int64 ?? 1
            let campaigns = json["campaigns"]?.int64 ?? 20
            guard seed >= 0 else { return problem("seed", "must not be negative") }
            guard (1...Int64(SimulatorConfig.campaignsMax)).contains(campaigns) else {
                return problem("campaigns", "must be 1...\(SimulatorConfig.campaignsMax)")
            }
            return .success(.simulator(seed: UInt64(seed), campaigns: Int(campaigns)))
        }
        guard let credential = json["token_credential"]?.string, !credential.isEmpty,
            credential.utf8.allSatisfy({
                ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-")
            })
        else {
            return problem(
                "token_credential",
                "required: the name of the credential holding the token ([a-z0-9-]+, e.g. \(kind)-token)")
        }
        guard let code = json["currency"]?.string, let currency = try? Currency(code: code) else {
            return problem("currency", "required: a supported ISO 4217 code (e.g. USD, EUR, JPY)")
        }
        let offset = json["utc_offset_seconds"]?.int64 ?? 0
        guard abs(offset) <= 14 * 3600 else { return problem("utc_offset_seconds", "must be within ±50400 (14 h)") }
        let baseURL = json["base_url"]?.string
        if let baseURL, let bad = urlProblem(baseURL) { return problem("base_url", bad) }
        switch kind {
        case "tiktok":
            guard let id = json["advertiser_id"]?.string ?? json["advertiser_id"]?.int64.map(String.init), isDigits(id)
            else {
                return problem("advertiser_id", "required: the numeric advertiser id")
            }
            var c = TikTokConfig(advertiserID: id, currency: currency)
            c.utcOffsetSeconds = offset
            if let baseURL { c.baseURL = baseURL }
            return .success(.tiktok(c, tokenCredential: credential))
        case "meta":
            guard var id = json["ad_account_id"]?.string ?? json["ad_account_id"]?.int64.map(String.init) else {
                return problem("ad_account_id", "required: the ad account id (with or without act_)")
            }
            if id.hasPrefix("act_") { id.removeFirst(4) }
            guard isDigits(id) else { return problem("ad_account_id", "must be digits, optionally prefixed act_") }
            var c = MetaConfig(adAccountID: id, currency: currency)
            c.utcOffsetSeconds = offset
            if let baseURL { c.baseURL = baseURL }
            return .success(.meta(c, tokenCredential: credential))
        default:  // shopify
            guard let domain = json["shop_domain"]?.string, domain.hasSuffix(".myshopify.com"), !domain.contains("/")
            else {
                return problem("shop_domain", "required: the shop's <name>.myshopify.com domain")
            }
            var c = ShopifyConfig(shopDomain: domain, currency: currency)
            if let baseURL { c.baseURL = baseURL }
            if let p = json["campaign_parameter"]?.string {
                guard !p.isEmpty, p.allSatisfy({ $0.isLetter || $0 == "_" }) else {
                    return problem("campaign_parameter", "must be a query parameter name")
                }
                c.campaignParameter = p
            }
            return .success(.shopify(c, tokenCredential: credential))
        }
    }

    static func isDigits(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 32 && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber)
    }

    /// https only, except plain http to a loopback host (test doubles on this machine).
    static func urlProblem(_ url: String) -> String? {
        if url.hasPrefix("https://") {
            return url.count > 8 && !url.hasSuffix("/") ? nil : "must be https://host[/path] without a trailing slash"
        }
        if url.hasPrefix("http://127.") || url.hasPrefix("http://localhost") || url.hasPrefix("http://[::1]") {
            return url.hasSuffix("/") ? "must not end with a slash" : nil
        }
        return "must use https (plain http is accepted only for loopback test doubles)"
    }
}

extension TikTokConfig: Equatable {
    package static func == (a: TikTokConfig, b: TikTokConfig) -> Bool {
        a.baseURL == b.baseURL && a.advertiserID == b.advertiserID && a.currency == b.currency
            && a.utcOffsetSeconds == b.utcOffsetSeconds
    }
}

extension MetaConfig: Equatable {
    package static func == (a: MetaConfig, b: MetaConfig) -> Bool {
        a.baseURL == b.baseURL && a.adAccountID == b.adAccountID && a.currency == b.currency
            && a.utcOffsetSeconds == b.utcOffsetSeconds
    }
}

extension ShopifyConfig: Equatable {
    package static func == (a: ShopifyConfig, b: ShopifyConfig) -> Bool {
        a.baseURL == b.baseURL && a.currency == b.currency && a.campaignParameter == b.campaignParameter
    }
}
