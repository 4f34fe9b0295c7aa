import AdPilotCore
import AdPilotPlatforms

extension ServiceConfig {
    /// `revenue`: null (the ad platform's reported value) or a Shopify store, in the ad
    /// account's currency (revenue is never converted at a guessed rate).
    static func parseRevenue(
        _ json: JSON?, platform: PlatformSettings, currency: Currency
    ) throws(ConfigProblem) -> PlatformSettings? {
        guard let json else { return nil }
        guard json["kind"]?.string == "shopify" else {
            throw ConfigProblem(key: "revenue.kind", problem: "required: \"shopify\" (or revenue: null)")
        }
        let revenue: PlatformSettings
        switch PlatformSettings.parse(json, path: "revenue") {
        case .success(let p): revenue = p
        case .failure(let p): throw ConfigProblem(key: p.key, problem: p.problem)
        }
        if case .simulator = platform {
            throw ConfigProblem(
                key: "revenue", problem: "the simulator is its own shop: a revenue source needs tiktok or meta")
        }
        let shop = platformCurrency(revenue)
        guard shop == currency else {
            throw ConfigProblem(
                key: "revenue.currency",
                problem: "\(shop) differs from the ad account's \(currency): revenue is compared with spend and is "
                    + "never converted at a guessed rate")
        }
        return revenue
    }
}
