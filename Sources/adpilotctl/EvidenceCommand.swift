import AdPilotControl
import AdPilotCore
import AdPilotJournal
import Foundation

/// `adpilotctl evidence`: the off-policy estimates of the candidate against the policy that
/// wrote, from the journal (docs/evaluation.md).
enum EvidenceCommand {
    static let replicates = 500, seed: UInt64 = 1

    static func run(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let candidate = try args.value("--candidate").map { text throws(UsageError) -> PolicyID in
            guard let id = PolicyID(text) else { throw UsageError(message: "evidence: \(text) is not NAME@VERSION") }
            return id
        }
        _ = try args.positionals(verb: "evidence")
        guard JournalCommands.journalExists(global) else { return .checkFailed }
        let log: EvidenceLog
        do {
            log = try EvidenceLog.read(JournalReader(directory: global.journalDir), candidate: candidate)
        } catch {
            Out.error("evidence: cannot read \(global.journalDir): \(error)")
            return .checkFailed
        }
        let report = log.scale.flatMap { scale in
            log.periods.isEmpty
                ? nil
                : OffPolicy.evaluate(
                    log.periods.map(\.period), reference: log.periods.map(\.reference), bandwidth: scale,
                    ridge: OffPolicy.ridge(scale: scale), weightMax: OffPolicy.weightMax, replicates: replicates,
                    seed: seed)
        }
        if json {
            Out.raw(RecordCoding.bytes(Summary(log: log, candidate: log.candidate, report: report)) + [0x0A])
        } else {
            Out.line(text(log, report))
        }
        return .ok
    }

    struct Summary: Encodable {
        var exploredDecisions: Int
        var rewards: Int
        var periods: Int
        var writer: PolicyID?
        var candidate: PolicyID?
        var explorationScale: Double?
        var unavailable: String?
        var report: OffPolicy.Report?

        init(log: EvidenceLog, candidate: PolicyID?, report: OffPolicy.Report?) {
            exploredDecisions = log.explored
            rewards = log.rewards
            periods = log.periods.count
            writer = log.writer
            self.candidate = candidate
            explorationScale = log.scale
            unavailable = report == nil ? EvidenceCommand.why(log) : nil
            self.report = report
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(exploredDecisions, forKey: .exploredDecisions)
            try c.encode(rewards, forKey: .rewards)
            try c.encode(periods, forKey: .periods)
            try c.encode(writer, forKey: .writer)
            try c.encode(candidate, forKey: .candidate)
            try c.encode(explorationScale, forKey: .explorationScale)
            try c.encode(unavailable, forKey: .unavailable)
            try c.encode(report, forKey: .report)
        }

        enum CodingKeys: String, CodingKey {
            case exploredDecisions, rewards, periods, writer, candidate, explorationScale, unavailable, report
        }
    }

    /// Why no estimate can be made, plainly.
    static func why(_ log: EvidenceLog) -> String {
        if log.explored == 0 {
            return "no explored decision in the journal (exploration.scale is 0, or no policy has written): the "
                + "direct method, IPS, SNIPS and doubly robust estimates are all unavailable"
        }
        if log.rewards == 0 {
            return "\(log.explored) explored decisions, but none of their hours has settled yet (2 hours after "
                + "each hour ends)"
        }
        return "\(log.explored) explored decisions and \(log.rewards) settled hours, but no candidate proposal in "
            + "the same ticks: stage a candidate (adpilotctl stage) so it decides in shadow"
    }

    static func text(_ log: EvidenceLog, _ report: OffPolicy.Report?) -> String {
        guard let report, let scale = log.scale else { return "evidence: " + why(log) }
        let title =
            "candidate \(log.candidate?.description ?? "?") against \(log.writer?.description ?? "?") (the "
            + "policy that wrote, exploring at scale \(scale))"
        return ([title] + table(report, explored: log.explored, settled: log.rewards)).joined(separator: "\n")
    }

    /// The estimates: the sample, its diagnostics, and one line per estimator.
    static func table(_ report: OffPolicy.Report, explored: Int? = nil, settled: Int? = nil) -> [String] {
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        func cell(_ i: OffPolicy.Interval) -> String { "\(f(i.estimate)) [\(f(i.low)), \(f(i.high))]" }
        let counts = explored.map { e in " (explored decisions \(e), settled hours \(settled ?? 0))" } ?? ""
        var lines = [
            "periods \(report.periods) campaign-hours in \(report.clusters) campaign-days\(counts); bandwidth "
                + "\(report.bandwidth); \(report.replicates) bootstrap replicates",
            String(
                format: "effective sample size %.1f (reference %.1f); support %.1f%%", report.effectiveSampleSize,
                report.referenceEffectiveSampleSize, report.support * 100),
            "profit per campaign-hour, estimate [95% interval]:",
            "estimator  candidate                    reference                    candidate - reference",
        ]
        for c in report.comparisons {
            lines.append(
                c.estimator.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + cell(c.candidate).padding(toLength: 29, withPad: " ", startingAt: 0)
                    + cell(c.reference).padding(toLength: 29, withPad: " ", startingAt: 0) + cell(c.difference))
        }
        return lines
    }
}
