package import AdPilotCore
import AdPilotJournal
import AdPilotControl
import AdPilotPlatforms
import AdPilotSystem
import Foundation

/// The off-policy estimators against the truth (docs/evaluation.md): on one seed, a logged
/// world (the writer live with the shipped exploration, the candidate in shadow) gives the
/// estimates; a twin market from the same seed with the candidate writing gives what the
/// candidate really earned in the same campaign-hours.
package enum TwinValidation {
    package struct Result: Sendable, Codable {
        package var seed: UInt64
        package var periods: Int
        /// The candidate's true mean profit per campaign-hour, over the logged periods'
        /// campaign-hours, in its own (twin) world.
        package var truth: Double
        package var report: OffPolicy.Report

        /// |estimate - truth| / |truth|.
        package func relativeError(_ e: OffPolicy.Estimator) -> Double {
            abs(report.comparison(e)!.candidate.estimate - truth) / max(abs(truth), 1e-9)
        }

        package func covers(_ e: OffPolicy.Estimator) -> Bool {
            let i = report.comparison(e)!.candidate
            return i.low <= truth && truth <= i.high
        }
    }

    /// Runs both worlds for `o.warmupDays + o.days` days on `seed` and compares over the
    /// scored days. `replicates` bootstrap draws for the intervals.
    package static func run(
        _ o: SimulationOptions, writer: PolicyID, candidate: PolicyID, seed: UInt64, replicates: Int, scratch: String
    ) throws -> Result {
        let scoredFrom = o.start.adding(seconds: Int64(o.warmupDays) * Instant.secondsPerDay)
        let logged = scratch + "/logged-seed\(seed)"
        _ = try world(
            o, slots: #"{"live": "\#(writer)", "candidate": "\#(candidate)"}"#, exploration: true, seed: seed,
            dir: logged)
        let log = try EvidenceLog.read(JournalReader(directory: logged + "/journal"), candidate: candidate)
        let periods = log.periods.filter { $0.hourStart >= scoredFrom }
        guard let scale = log.scale, !periods.isEmpty else {
            throw StartupError("seed \(seed): the logged world produced no explored periods to evaluate")
        }
        let truthByHour = try world(
            o, slots: #"{"live": "\#(candidate)", "candidate": null}"#, exploration: false, seed: seed,
            dir: scratch + "/twin-seed\(seed)")
        let truth = periods.reduce(0.0) { $0 + (truthByHour["\($1.campaign.rawValue) \($1.hourStart)"] ?? 0) }
            / Double(periods.count)
        let report = OffPolicy.evaluate(
            periods.map(\.period), reference: periods.map(\.reference), bandwidth: scale,
            ridge: OffPolicy.ridge(scale: scale), weightMax: OffPolicy.weightMax, replicates: replicates, seed: seed)
        return Result(seed: seed, periods: periods.count, truth: truth, report: report)
    }

    /// One world: a controller on the seed's market for the whole run. Returns every
    /// campaign-hour's true profit (currency units), keyed "campaign hourStart".
    static func world(
        _ o: SimulationOptions, slots: String, exploration: Bool, seed: UInt64, dir: String
    ) throws -> [String: Double] {
        let overlay = #"{"slots": \#(slots), "platform": {"seed": \#(seed)}"#
            + (exploration ? "}" : #", "exploration": null}"#)
        let config = try DefaultConfig.demo(
            campaigns: o.campaigns, extraPolicyDirs: o.policyDirs, overlay: o.overlay, overlays: [overlay])
        let clock = ManualClock(o.start)
        let market = MarketSimulator(
            config: SimulatorConfig(seed: seed, campaigns: o.campaigns, start: o.start), clock: clock)
        let stateDir = StateDirectory(dir, io: PosixFileIO(durable: false))
        let log = Log(identifier: "twin", toJournald: false, silent: true)
        let journal = try Controller.openJournal(config: config, stateDir: stateDir, sealKey: nil, log: log)
        let controller = try Controller.start(
            config: config, stateDir: stateDir, journal: journal, platform: market, clock: clock, log: log)
        controller.snapshotAfterEveryTick = false
        var truth: [String: Double] = [:]
        for _ in 0..<(o.warmupDays + o.days) {
            for _ in 0..<(Instant.secondsPerDay / config.tickSeconds) {
                controller.tick(log: log)
                clock.advance(seconds: config.tickSeconds)
            }
            market.advance(to: clock.now())
            let last = market.nextHour - 1
            for c in try market.listCampaigns() {
                for h in (last - 23)...last {
                    guard let m = market.trueMetrics(campaign: c.id, hour: h) else { continue }
                    let start = Instant(microsSinceEpoch: h * Instant.secondsPerHour * Instant.microsPerSecond)
                    truth["\(c.id.rawValue) \(start)"] =
                        (m.conversionValueMicros.statistic - m.spendMicros.statistic) / Double(Micros.perUnit)
                }
            }
        }
        controller.shutdown(reason: "twin validation finished", log: log)
        return truth
    }
}
