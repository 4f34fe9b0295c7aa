package import AdPilotCore

/// Fault modes tests can switch on. Faults draw from their own random stream, so switching
/// one on never changes the market itself.
package struct SimulatorFaults: Sendable, Equatable {
    /// Real milliseconds every call takes (for timeout tests).
    package var latencyMillis = 0
    /// Share of calls that fail as unavailable (a 5xx).
    package var errorRate = 0.0
    /// Share of calls that are throttled.
    package var throttleRate = 0.0
    /// Metrics lag this many hours behind.
    package var staleHours = 0
    /// Budget writes report success and change nothing.
    package var silentNoOpWrites = false
    /// Share of reported campaign-hours that come back glitched (50x spike or all zeros).
    package var glitchRate = 0.0
    /// Campaigns whose conversions (and their value) fall to a fifth in every hour
    /// simulated from now on: a market turning against them.
    package var degradedCampaigns: Set<CampaignID> = []
    /// Campaigns whose conversions (and value) stop being reported from now on, while
    /// clicks go on: a broken pixel or tag.
    package var trackingOutage: Set<CampaignID> = []
    /// Campaigns receiving eight times their clicks (bots: the extra clicks never convert).
    package var clickSpike: Set<CampaignID> = []
    /// Campaigns the platform charges five times their delivery, past any budget.
    package var spendSpike: Set<CampaignID> = []
    /// The campaign faults above apply to hours from this one (hours since the epoch) on.
    package var campaignFaultsFromHour: Int64 = 0

    package var anyCampaignFault: Bool {
        !degradedCampaigns.isEmpty || !trackingOutage.isEmpty || !clickSpike.isEmpty || !spendSpike.isEmpty
    }

    package init() {}
}

package struct SimulatorConfig: Sendable {
    package var seed: UInt64
    package var campaigns: Int
    package var currency: Currency = .usd
    /// Simulated time starts here (rounded down to the hour).
    package var start: Instant
    /// Hours of metrics kept per campaign for queries.
    package var historyHours = 72
    /// Chance per campaign-hour that a competitor shock starts.
    package var shockChancePerHour = 0.002

    package static let campaignsMax = 100_000

    package init(seed: UInt64, campaigns: Int, start: Instant) {
        precondition(campaigns >= 1 && campaigns <= SimulatorConfig.campaignsMax)
        self.seed = seed
        self.campaigns = campaigns
        self.start = start
    }
}
