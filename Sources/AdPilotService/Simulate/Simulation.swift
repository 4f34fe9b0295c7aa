package import AdPilotCore
import AdPilotJournal
import AdPilotControl
package import AdPilotPlatforms
import AdPilotSystem
import Foundation

/// `adpilotctl simulate`: a policy in the live slot of a whole controller (journal, every
/// layer, the state machine) on the embedded simulator with a manual clock, walked forward
/// tick by tick; then what the market really did, day by day (docs/simulate.md).
package struct SimulationOptions: Sendable {
    package var days = 7
    package var warmupDays = 1
    package var campaigns = 50
    package var seeds: ClosedRange<UInt64> = 1...3
    /// Searched after the demo's policy directory.
    package var policyDirs: [String] = []
    /// Merged over the demo configuration (JSON object), e.g. other targets or guardrails.
    package var overlay: String? = nil
    /// A Monday at midnight UTC; the warm-up starts here.
    package var start = Instant(secondsSinceEpoch: 1_780_272_000)  // 2026-06-01T00:00:00Z

    package init() {}
}

/// One campaign's day as the market saw it (true spend including the last hour, every
/// conversion's value), against what was configured.
package struct CampaignDay: Sendable, Equatable {
    package var seed: UInt64
    package var day: Int
    package var campaign: CampaignID
    package var targetMicros: Micros
    package var spendMicros: Micros
    package var valueMicros: Micros
    package var dailyCapMicros: Micros
    /// The day's ROAS (or CPA) met the campaign's efficiency target: spending the whole
    /// target was allowed. Days where it did not are reported apart.
    package var reachable: Bool
}

/// What one policy did on one seed.
package struct SimulationRun: Sendable {
    package var policy: PolicyID
    package var seed: UInt64
    package var days: [CampaignDay] = []
    /// Profit (value − spend, currency units) of each scored day, account-wide.
    package var dailyProfit: [Double] = []
    package var accountCapBreaches = 0
    package var halts = 0
    package var quarantines = 0
    /// Mean cumulative share of the daily target spent by each hour boundary (25 values), and
    /// the pacer's plan for it, over the scored campaign-days.
    package var intraday: [Double] = []
    package var plan: [Double] = []
}

package enum Simulation {
    /// Runs `policy` on `seed` in a fresh state directory under `scratch`.
    package static func run(
        _ o: SimulationOptions, policy: PolicyID, seed: UInt64, scratch: String
    ) throws -> SimulationRun {
        let config = try configuration(o, policy: policy, seed: seed)
        let clock = ManualClock(o.start)
        let market = MarketSimulator(
            config: SimulatorConfig(seed: seed, campaigns: o.campaigns, start: o.start), clock: clock)
        // A scratch directory that nothing outlives: journaled in full, never synced.
        let stateDir = StateDirectory(
            scratch + "/\(policy.name)-\(policy.version)-seed\(seed)", io: PosixFileIO(durable: false))
        let log = Log(identifier: "adpilotctl simulate", toJournald: false, silent: true)
        let journal = try Controller.openJournal(config: config, stateDir: stateDir, sealKey: nil, log: log)
        let controller = try Controller.start(
            config: config, stateDir: stateDir, journal: journal, platform: market, clock: clock, log: log)
        guard controller.policies[policy] != nil else {
            controller.shutdown(reason: "simulation refused", log: log)
            throw StartupError("policy \(policy) did not load (adpilotctl policy list shows what is installed)")
        }
        var run = SimulationRun(policy: policy, seed: seed)
        let scoredFrom = o.start.adding(seconds: Int64(o.warmupDays) * Instant.secondsPerDay)
        var plan = (sums: [Double](repeating: 0, count: 25), counts: [Int](repeating: 0, count: 25))
        controller.onDecisions = { samplePlan($0, config, scoredFrom: scoredFrom, &plan) }
        controller.snapshotAfterEveryTick = false  // nothing restarts it; the journal is kept in full
        let ticksPerDay = Instant.secondsPerDay / config.tickSeconds
        for day in 0..<(o.warmupDays + o.days) {
            for _ in 0..<ticksPerDay {
                controller.tick(log: log)
                clock.advance(seconds: config.tickSeconds)
            }
            market.advance(to: clock.now())  // the day's last hour, at the budget in force
            if day >= o.warmupDays { score(day: day - o.warmupDays, market, config, &run) }
        }
        controller.shutdown(reason: "simulation finished", log: log)
        try countEvents(stateDir, &run)
        plan.sums[24] = 1
        plan.counts[24] = 1
        run.plan = zip(plan.sums, plan.counts).map { $1 > 0 ? $0 / Double($1) : 0 }
        run.intraday = run.intraday.map { $0 / Double(max(1, run.days.count)) }
        return run
    }

    static func configuration(_ o: SimulationOptions, policy: PolicyID, seed: UInt64) throws -> ServiceConfig {
        let slots = #"{"slots": {"live": "\#(policy)", "candidate": null}, "platform": {"seed": \#(seed)}}"#
        let config = try DefaultConfig.demo(
            campaigns: o.campaigns, extraPolicyDirs: o.policyDirs, overlay: o.overlay, overlays: [slots])
        // Days are scored at midnight: the ticks must land on it.
        guard Instant.secondsPerDay % config.tickSeconds == 0 else {
            throw ConfigProblem(key: "tick_seconds", problem: "must divide a day (86,400 s) to simulate")
        }
        return config
    }

    /// Each campaign's day from the market's own records, its intraday curve, and the day's
    /// account profit.
    static func score(day: Int, _ market: MarketSimulator, _ config: ServiceConfig, _ run: inout SimulationRun) {
        let lastHour = market.nextHour - 1
        var profit = 0.0
        var accountSpend = Micros.zero
        if run.intraday.isEmpty { run.intraday = Array(repeating: 0, count: 25) }
        for c in (try? market.listCampaigns()) ?? [] {
            let campaign = config.campaign(c.id, currency: c.currency)
            var spend = Micros.zero, value = Micros.zero
            for (k, h) in ((lastHour - 23)...lastHour).enumerated() {
                if let m = market.trueMetrics(campaign: c.id, hour: h) {
                    spend = spend.saturatingAdding(m.spendMicros)
                    value = value.saturatingAdding(m.conversionValueMicros)
                }
                run.intraday[k + 1] += spend.statistic / campaign.dailyTargetMicros.statistic
            }
            accountSpend = accountSpend.saturatingAdding(spend)
            profit += (value.statistic - spend.statistic) / Double(Micros.perUnit)
            run.days.append(
                CampaignDay(
                    seed: run.seed, day: day, campaign: c.id, targetMicros: campaign.dailyTargetMicros,
                    spendMicros: spend, valueMicros: value, dailyCapMicros: campaign.guardrails.dailyCapMicros,
                    reachable: reachable(
                        campaign.efficiencyTarget, market.expectedROAS(
                            campaign: c.id, daySpendMicros: campaign.dailyTargetMicros, day: lastHour / 24))))
        }
        if accountSpend > config.account.dailyCapMicros { run.accountCapBreaches += 1 }
        run.dailyProfit.append(profit)
    }

    /// Whether spending the whole target was allowed: the market's expected ROAS at the target
    /// meets a ROAS target (CPA targets and none: always).
    static func reachable(_ target: EfficiencyTarget, _ roasAtTarget: Double?) -> Bool {
        guard case .roas(let r) = target else { return true }
        return (roasAtTarget ?? 0) >= r
    }

    /// The pacer's plan at the first tick of each hour of scored days (target spend to date
    /// as a share of the daily target), summed into `plan` with its sample counts.
    static func samplePlan(
        _ decisions: [Decision], _ config: ServiceConfig, scoredFrom: Instant,
        _ plan: inout (sums: [Double], counts: [Int])
    ) {
        for d in decisions where d.input.slot == .live && d.input.now >= scoredFrom {
            let second = LocalTime(d.input.now, utcOffsetSeconds: config.account.utcOffsetSeconds).secondOfDay
            guard second % 3_600 < config.tickSeconds else { continue }
            let hour = Int(second / 3_600)
            plan.sums[hour] += d.pacer.targetSpendToDateMicros.statistic / d.input.campaign.dailyTargetMicros.statistic
            plan.counts[hour] += 1
        }
    }

    /// Halts and quarantines, from the journal.
    static func countEvents(_ stateDir: StateDirectory, _ run: inout SimulationRun) throws {
        let decoder = RecordCoding.decoder()
        let kinds: Set<String> = [RecordKind.halt, RecordKind.quarantine]
        try JournalReader(directory: stateDir.journal).records(matching: RecordFilter(kinds: kinds)) { r in
            if r.kind == RecordKind.halt {
                run.halts += 1
            } else if (try? decoder.decode(QuarantineRecord.self, from: Data(r.dataBytes)))?.action == .enter {
                run.quarantines += 1
            }
            return true
        }
    }
}
