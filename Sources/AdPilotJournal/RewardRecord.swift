package import AdPilotCore

/// A settled hour of a campaign whose first decision of the hour explored (kind `reward`):
/// the reward that decision is credited with for off-policy evaluation (docs/evaluation.md).
/// Written once the hour has settled (`Observing.settleHours` after it ended), from the
/// hour as the platform then reports it (conversion value from Shopify when configured).
package struct RewardRecord: Codable, Sendable {
    package let campaign: CampaignID
    /// The hour's start.
    package let hourStart: Instant
    /// The explored decision that governed the hour.
    package let decisionSeq: UInt64
    package let spendMicros: Micros
    package let valueMicros: Micros
    /// `value_micros - spend_micros`.
    package let profitMicros: Micros

    package init(campaign: CampaignID, hourStart: Instant, decisionSeq: UInt64, spendMicros: Micros,
                 valueMicros: Micros) {
        self.campaign = campaign
        self.hourStart = hourStart
        self.decisionSeq = decisionSeq
        self.spendMicros = spendMicros
        self.valueMicros = valueMicros
        profitMicros = valueMicros.saturatingSubtracting(spendMicros)
    }
}
