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
        do throws(Problem) {
            return .success(try parseObject(json))
        } catch {
            return .failure(Problem(key: error.key.isEmpty ? path : "\(path).\(error.key)", problem: error.problem))
        }
    }

    /// `parse` with each problem's key relative to the object ("" for the object itself).
    private static func parseObject(_ json: JSON) throws(Problem) -> PlatformSettings {
        guard case .object(let members) = json else { throw Problem(key: "", problem: "must be an object") }
        guard let kind = json["kind"]?.string else {
            throw Problem(key: "kind", problem: "required: simulator, tiktok, meta or shopify")
        }
        try checkKeys(members, allowed: allowedKeys(kind: kind))
        try checkTypes(json)
        var seen = Set<String>()
        for (key, _) in members where !seen.insert(key).inserted { throw Problem(key: key, problem: "duplicate key") }
        if kind == "simulator" { return try parseSimulator(json) }
        let account = try Account(json, kind: kind)
        switch kind {
        case "tiktok": return try parseTikTok(json, account)
        case "meta": return try parseMeta(json, account)
        default: return try parseShopify(json, account)  // shopify
        }
    }

    /// The keys a platform of `kind` accepts.
    private static func allowedKeys(kind: String) throws(Problem) -> Set<String> {
        switch kind {
        case "simulator": return ["kind", "seed", "campaigns"]
        case "tiktok":
            return ["kind", "base_url", "advertiser_id", "currency", "utc_offset_seconds", "token_credential"]
        case "meta":
            return ["kind", "base_url", "ad_account_id", "currency", "utc_offset_seconds", "token_credential"]
        case "shopify":
            return ["kind", "base_url", "shop_domain", "currency", "campaign_parameter", "token_credential"]
        default:
            throw Problem(
                key: "kind",
                problem: "unknown platform \"\(kind.prefix(40))\": expected simulator, tiktok, meta or shopify")
        }
    }

    /// No key outside `allowed`, and never a token.
    private static func checkKeys(_ members: [(String, JSON)], allowed: Set<String>) throws(Problem) {
        for (key, _) in members where !allowed.contains(key) {
            if secretKeys.contains(key) {
                throw Problem(
                    key: key,
                    problem: "tokens never go in the config file: put the token in a credential and name it in "
                        + "token_credential")
            }
            throw Problem(key: key, problem: "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// A key that is present must have the right type: never a silent default.
    private static func checkTypes(_ json: JSON) throws(Problem) {
        for key in ["seed", "campaigns", "utc_offset_seconds"] {
            if let v = json[key], case .number = v, v.int64 != nil { continue }
            if json[key] != nil { throw Problem(key: key, problem: "must be a whole number") }
        }
        for key in ["base_url", "currency", "shop_domain", "campaign_parameter", "token_credential"]
        where json[key] != nil && json[key]?.string == nil {
            throw Problem(key: key, problem: "must be a string")
        }
    }

    private static func parseSimulator(_ json: JSON) throws(Problem) -> PlatformSettings {
        let seed = json["seed"]?.int64 ?? 1
        let campaigns = json["campaigns"]?.int64 ?? 20
        guard seed >= 0 else { throw Problem(key: "seed", problem: "must not be negative") }
        guard (1...Int64(SimulatorConfig.campaignsMax)).contains(campaigns) else {
            throw Problem(key: "campaigns", problem: "must be 1...\(SimulatorConfig.campaignsMax)")
        }
        return .simulator(seed: UInt64(seed), campaigns: Int(campaigns))
    }

    /// What every real platform needs: the token's credential name, the currency, the UTC
    /// offset and an optional base URL.
    private struct Account {
        let credential: String
        let currency: Currency
        let offset: Int64
        let baseURL: String?

        init(_ json: JSON, kind: String) throws(Problem) {
            guard let credential = json["token_credential"]?.string, !credential.isEmpty,
                credential.utf8.allSatisfy({
                    ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-")
                })
            else {
                throw Problem(
                    key: "token_credential",
                    problem: "required: the name of the credential holding the token ([a-z0-9-]+, e.g. \(kind)-token)")
            }
            guard let code = json["currency"]?.string, let currency = try? Currency(code: code) else {
                throw Problem(key: "currency", problem: "required: a supported ISO 4217 code (e.g. USD, EUR, JPY)")
            }
            let offset = json["utc_offset_seconds"]?.int64 ?? 0
            guard abs(offset) <= 14 * 3600 else {
                throw Problem(key: "utc_offset_seconds", problem: "must be within ±50400 (14 h)")
            }
            let baseURL = json["base_url"]?.string
            if let baseURL, let bad = urlProblem(baseURL) { throw Problem(key: "base_url", problem: bad) }
            self.credential = credential
            self.currency = currency
            self.offset = offset
            self.baseURL = baseURL
        }
    }

    private static func parseTikTok(_ json: JSON, _ account: Account) throws(Problem) -> PlatformSettings {
        guard let id = json["advertiser_id"]?.string ?? json["advertiser_id"]?.int64.map(String.init), isDigits(id)
        else {
            throw Problem(key: "advertiser_id", problem: "required: the numeric advertiser id")
        }
        var c = TikTokConfig(advertiserID: id, currency: account.currency)
        c.utcOffsetSeconds = account.offset
        if let baseURL = account.baseURL { c.baseURL = baseURL }
        return .tiktok(c, tokenCredential: account.credential)
    }

    private static func parseMeta(_ json: JSON, _ account: Account) throws(Problem) -> PlatformSettings {
        guard var id = json["ad_account_id"]?.string ?? json["ad_account_id"]?.int64.map(String.init) else {
            throw Problem(key: "ad_account_id", problem: "required: the ad account id (with or without act_)")
        }
        if id.hasPrefix("act_") { id.removeFirst(4) }
        guard isDigits(id) else {
            throw Problem(key: "ad_account_id", problem: "must be digits, optionally prefixed act_")
        }
        var c = MetaConfig(adAccountID: id, currency: account.currency)
        c.utcOffsetSeconds = account.offset
        if let baseURL = account.baseURL { c.baseURL = baseURL }
        return .meta(c, tokenCredential: account.credential)
    }

    private static func parseShopify(_ json: JSON, _ account: Account) throws(Problem) -> PlatformSettings {
        guard let domain = json["shop_domain"]?.string, domain.hasSuffix(".myshopify.com"), !domain.contains("/")
        else {
            throw Problem(key: "shop_domain", problem: "required: the shop's <name>.myshopify.com domain")
        }
        var c = ShopifyConfig(shopDomain: domain, currency: account.currency)
        if let baseURL = account.baseURL { c.baseURL = baseURL }
        if let p = json["campaign_parameter"]?.string {
            guard !p.isEmpty, p.allSatisfy({ $0.isLetter || $0 == "_" }) else {
                throw Problem(key: "campaign_parameter", problem: "must be a query parameter name")
            }
            c.campaignParameter = p
        }
        return .shopify(c, tokenCredential: account.credential)
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
