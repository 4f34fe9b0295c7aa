import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotSystem
import Foundation

/// `adpilotctl simulate NAME@VERSION... [--days N] [--warmup-days N] [--campaigns N]
/// [--seeds A..B] [--policy-dir DIR]... [--overlay JSON] [--json] [--svg FILE]` (docs/simulate.md).
enum SimulateCommand {
    static func run(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        var o = SimulationOptions()
        let json = args.flag("--json")
        let svg = try args.value("--svg")
        o.days = try number(&args, "--days", in: 1...60) ?? o.days
        o.warmupDays = try number(&args, "--warmup-days", in: 0...14) ?? o.warmupDays
        o.campaigns = try number(&args, "--campaigns", in: 1...10_000) ?? o.campaigns
        if let text = try args.value("--seeds") { o.seeds = try seeds(text) }
        o.policyDirs += ShippedPolicies.directories() + (try args.values("--policy-dir"))
        o.overlay = try args.value("--overlay")
        o.policyDirs.append(global.stateDir + "/policies")
        let names = try args.positionals(verb: "simulate")
        guard !names.isEmpty else {
            throw UsageError(message: "simulate needs at least one policy as NAME@VERSION (adpilotctl policy list)")
        }
        var policies: [PolicyID] = []
        for n in names {
            guard let id = PolicyID(n) else { throw UsageError(message: "simulate: \(n) is not NAME@VERSION") }
            if !policies.contains(id) { policies.append(id) }
        }
        let report: SimulationReport
        do {
            report = try simulate(o, policies)
        } catch let problem as ConfigProblem {
            Out.error("simulate: the configuration (--overlay over the demo's): \(problem)")
            return .usage
        } catch {
            Out.error("simulate: \(error)")
            return .checkFailed
        }
        if let svg {
            do {
                try Data(report.svg.utf8).write(to: URL(fileURLWithPath: svg))
            } catch {
                Out.error("simulate: cannot write \(svg): \(error)")
                return .checkFailed
            }
        }
        if json {
            let e = RecordCoding.encoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            Out.line(String(decoding: (try? e.encode(report)) ?? Data(), as: UTF8.self))
        } else {
            Out.line(report.text)
        }
        return .ok
    }

    /// Every policy on every seed, two at a time on separate threads, in a scratch
    /// directory removed afterwards.
    static func simulate(_ o: SimulationOptions, _ policies: [PolicyID]) throws -> SimulationReport {
        let scratch = NSTemporaryDirectory() + "adpilot-simulate-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let jobs = policies.flatMap { p in o.seeds.map { (p, $0) } }
        let results = Guarded([Result<SimulationRun, any Error>?](repeating: nil, count: jobs.count))
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            let r = Result { try Simulation.run(o, policy: jobs[i].0, seed: jobs[i].1, scratch: scratch) }
            results.with { $0[i] = r }
        }
        return SimulationReport(o, runs: try results.current.map { try $0!.get() })
    }

    static func number(_ args: inout Arguments, _ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = try args.value(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw UsageError(message: "\(name) takes a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// `A..B` or a single seed `A`.
    static func seeds(_ text: String) throws(UsageError) -> ClosedRange<UInt64> {
        let parts = text.components(separatedBy: "..")
        let bounds = parts.compactMap { UInt64($0) }
        guard bounds.count == parts.count, (1...2).contains(bounds.count), bounds.first! <= bounds.last!,
            bounds.last! - bounds.first! < 100
        else {
            throw UsageError(message: "--seeds takes A..B (at most 100 seeds) or one seed A, e.g. --seeds 1..3")
        }
        return bounds.first!...bounds.last!
    }
}
