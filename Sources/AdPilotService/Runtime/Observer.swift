import AdPilotControl
import AdPilotJournal
package import AdPilotCore
import AdPilotPlatforms
import AdPilotSystem

/// What the controller keeps per campaign between ticks, persisted in the snapshot.
package struct CampaignMemory: Codable, Sendable {
    package var control = CampaignControl()
    /// The newest completed hour already shown to the anomaly detector.
    package var lastIngestedHour: Int64? = nil

    package init() {}
}

/// Step 1 of the pipeline (docs/decision-pipeline.md): reads every campaign from the
/// platform; what it derives from what it read is `Observing` and `CanaryScope`, in the core.
enum Observer {
    struct Observed {
        var campaigns: [TickCampaign] = []
        /// Per campaign (same order): the newly completed hours' raw count, spend and
        /// conversion value, for the canary's cohort comparison.
        var fresh: [(hours: Int, spendMicros: Int64, valueMicros: Int64)] = []
        /// Campaigns that could not be read this tick: they hold (no decision, no write).
        var failures: [(campaign: CampaignID, error: PlatformError)] = []
    }

    static func observe(
        _ platform: any AdPlatform, config: ServiceConfig, now: Instant, mode: Mode,
        memory: [CampaignID: CampaignMemory], clock: any TimeSource, cache: inout HourCache
    ) throws(PlatformError) -> Observed {
        var list = try platform.listCampaigns()
        list.sort { $0.id < $1.id }
        cache.keep(only: Set(list.map(\.id)))
        let windowStart = now.adding(seconds: -Observing.trailingHours * Instant.secondsPerHour)
        // Computed in every mode: status shows which campaigns a canary would control.
        let scope = canaryScope(config: config, campaigns: list.filter { $0.notControllable == nil })
        var out = Observed()
        out.campaigns.reserveCapacity(list.count)
        // Paused campaigns are read too: their spend today counts toward the account cap.
        // Campaigns whose reads start at the same time are read together.
        let starts = Dictionary(list.map { ($0.id, cache.fetchStart($0.id, windowStart: windowStart, now: now)) },
                                uniquingKeysWith: { a, _ in a })
        var read: [CampaignID: Result<MetricsWindow, PlatformError>] = [:]
        for (from, ids) in Dictionary(grouping: list.map(\.id), by: { starts[$0]! }) {
            read.merge(platform.hourlyMetrics(campaigns: ids, from: from, to: now)) { a, _ in a }
        }
        for c in list {
            let window: MetricsWindow
            do {
                let fresh = try (read[c.id] ?? .failure(.malformed(detail: "no report for \(c.id)"))).get()
                window = cache.merge(c.id, fresh: fresh, fetchedFrom: starts[c.id]!, windowStart: windowStart, now: now)
            } catch {
                out.failures.append((c.id, error))
                out.campaigns.append(
                    unreadable(c, error, config: config, now: now, inCanaryScope: scope.contains(c.id)))
                out.fresh.append((0, 0, 0))
                continue
            }
            var observation = Observing.observation(
                campaign: c.id, currency: c.currency, budgetMicros: c.dailyBudgetMicros, hours: window.hours,
                freshThrough: window.freshThrough, now: now, utcOffsetSeconds: config.account.utcOffsetSeconds)
            observation.observedAt = clock.now()
            let last = memory[c.id]?.lastIngestedHour
            let campaignConfig = config.campaign(c.id, currency: c.currency)
            let completed = Observing.completed(window.hours, at: now)
            out.fresh.append(Observing.settled(completed, lastIngested: last))
            let newHours = Observing.newHours(completed, lastIngested: last)
            out.campaigns.append(
                TickCampaign(
                    config: campaignConfig, observation: observation,
                    newHours: newHours, inCanaryScope: scope.contains(c.id), paused: c.status == .paused,
                    notControllable: c.notControllable))
        }
        return out
    }

    /// A campaign listed (so its budget is known) whose metrics could not be read: it holds
    /// alone. Nothing decides for it, and the account cap counts it at the most its budget
    /// can deliver today (spend today unknown, taken as none: the projection is then the
    /// budget's whole day), so the others can proceed without risking the cap.
    static func unreadable(
        _ c: PlatformCampaign, _ error: PlatformError, config: ServiceConfig, now: Instant, inCanaryScope: Bool
    ) -> TickCampaign {
        let observation = Observation(
            campaign: c.id, currency: c.currency, currentBudgetMicros: c.dailyBudgetMicros, spendTodayMicros: .zero,
            trailing: TrailingStats(spendMicros: .zero, conversions: 0, conversionValueMicros: .zero),
            hoursWithoutConversion: 0, dataAgeSeconds: Int64.max / 2)
        return TickCampaign(
            config: config.campaign(c.id, currency: c.currency), observation: observation, newHours: [],
            inCanaryScope: inCanaryScope, paused: false,
            notControllable: "unreadable this tick (\(error)): held, counted in the account cap at its whole budget")
    }

    /// The canary scope over the listed campaigns, ordered by SHA-256 of the id.
    static func canaryScope(config: ServiceConfig, campaigns: [PlatformCampaign]) -> Set<CampaignID> {
        let candidates = campaigns.map {
            CanaryScope.Candidate(
                id: $0.id, dailyTargetMicros: config.campaign($0.id, currency: $0.currency).dailyTargetMicros,
                orderKey: Crypto.sha256(Array($0.id.rawValue.utf8)).hex)
        }
        return CanaryScope.select(candidates, setting: config.canary,
                                  maxSpendAtRiskMicros: config.account.maxSpendAtRiskMicros)
    }
}
