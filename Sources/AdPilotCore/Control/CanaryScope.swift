/// Which campaigns a canary candidate controls (docs/state-machine.md).
package enum CanaryScopeSetting: Equatable, Sendable {
    case campaigns([CampaignID])
    /// Campaigns, taken in a deterministic order, until this fraction of the total daily
    /// budget is covered.
    case budgetFraction(Double)
}

/// The canary scope (docs/state-machine.md): the configured ids, or campaigns in a fixed
/// pseudo-random order (the caller's `orderKey`, a digest of the id, so the choice does not
/// follow naming) until their daily targets reach the configured fraction of all targets.
/// Either way capped so the scope's targets stay within `maxSpendAtRiskMicros`.
package enum CanaryScope {
    package struct Candidate: Hashable, Sendable {
        package var id: CampaignID
        package var dailyTargetMicros: Micros
        package var orderKey: String

        package init(id: CampaignID, dailyTargetMicros: Micros, orderKey: String) {
            self.id = id
            self.dailyTargetMicros = dailyTargetMicros
            self.orderKey = orderKey
        }
    }

    package static func select(_ candidates: [Candidate], setting: CanaryScopeSetting, maxSpendAtRiskMicros: Micros)
        -> Set<CampaignID>
    {
        let cap = Int128(maxSpendAtRiskMicros.rawValue)
        let ordered: [Candidate]
        var budget: Int128
        switch setting {
        case .campaigns(let ids):
            let wanted = Set(ids)
            ordered = candidates.filter { wanted.contains($0.id) }
            budget = cap
        case .budgetFraction(let f):
            ordered = candidates.sorted { $0.orderKey < $1.orderKey }
            let total = candidates.reduce(Int128(0)) { $0 + Int128($1.dailyTargetMicros.rawValue) }
            budget = min(cap, Int128((Double(total) * f).rounded(.down)))
        }
        var scope = Set<CampaignID>()
        for c in ordered {
            let t = Int128(c.dailyTargetMicros.rawValue)
            guard t <= budget else { break }
            budget -= t
            scope.insert(c.id)
        }
        return scope
    }
}
