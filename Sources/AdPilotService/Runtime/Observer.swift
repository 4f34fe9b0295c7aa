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
        /// Per campaign (same order): whether it was read this tick.
        var readable: [Bool] = []
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
        // Computed in every mode: status shows which campaigns a canary would control.
        let scope = canaryScope(config: config, campaigns: list.filter { $0.notControllable == nil })
        var out = Observed()
        out.campaigns.reserveCapacity(list.count)
        // Paused campaigns are read too: their spend today counts toward the account cap.
        let read = readWindows(platform, ids: list.map(\.id), config: config, now: now, cache: &cache)
        for c in list {
            let window: MetricsWindow
            do {
                window = try (read[c.id] ?? .failure(.malformed(detail: "no report for \(c.id)"))).get()
            } catch {
                out.failures.append((c.id, error))
                out.campaigns.append(
                    unreadable(c, error, config: config, now: now, inCanaryScope: scope.contains(c.id)))
                out.fresh.append((0, 0, 0))
                out.readable.append(false)
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
            out.readable.append(true)
            let newHours = Observing.newHours(completed, lastIngested: last)
            out.campaigns.append(
                TickCampaign(
                    config: campaignConfig, observation: observation,
                    newHours: newHours, inCanaryScope: scope.contains(c.id), paused: c.status == .paused,
                    notControllable: c.notControllable))
        }
        return out
    }

    /// Each campaign's trailing window, reading as little as `HourCache` allows: hours for
    /// those that need them (one request for many that start at the same hour), today's
    /// totals for the others, or hours for them too when the platform offers no totals.
    static func readWindows(
        _ platform: any AdPlatform, ids: [CampaignID], config: ServiceConfig, now: Instant, cache: inout HourCache
    ) -> [CampaignID: Result<MetricsWindow, PlatformError>] {
        let windowStart = now.adding(seconds: -Observing.trailingHours * Instant.secondsPerHour)
        var read: [CampaignID: Result<MetricsWindow, PlatformError>] = [:]
        var needHours = ids.filter { cache.needsHours($0, now: now) }
        let current = ids.filter { !cache.needsHours($0, now: now) }
        if !current.isEmpty, let totals = platform.todayTotals(campaigns: current, now: now) {
            for id in current {
                read[id] = (totals[id] ?? .failure(.malformed(detail: "no totals for \(id) today"))).map {
                    cache.window(
                        id, today: $0, windowStart: windowStart, now: now,
                        utcOffsetSeconds: config.account.utcOffsetSeconds)!
                }
            }
        } else {
            needHours += current
        }
        let starts = Dictionary(grouping: needHours) { cache.fetchStart($0, windowStart: windowStart, now: now) }
        for (from, group) in starts.sorted(by: { $0.key < $1.key }) {
            for (id, result) in platform.hourlyMetrics(campaigns: group, from: from, to: now) {
                read[id] = result.map {
                    cache.merge(id, fresh: $0, fetchedFrom: from, windowStart: windowStart, now: now)
                }
            }
        }
        return read
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
