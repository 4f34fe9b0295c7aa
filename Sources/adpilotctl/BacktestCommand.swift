import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPolicy
import AdPilotService
import Foundation

/// `adpilotctl backtest NAME@VERSION [--since TIME] [--until TIME] [--policy-dir DIR]...
/// [--json]`: the journal's writing decisions replayed with another policy
/// (docs/evaluation.md#backtest).
enum BacktestCommand {
    static func run(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let since = try args.time("--since"), until = try args.time("--until")
        let dirs = try args.values("--policy-dir")
        let names = try args.positionals(verb: "backtest")
        guard names.count == 1, let id = PolicyID(names[0]) else {
            throw UsageError(message: "backtest needs one policy as NAME@VERSION (adpilotctl policy list)")
        }
        if let since, let until, until <= since {
            throw UsageError(message: "backtest: --until must be after --since")
        }
        guard JournalCommands.journalExists(global) else { return .checkFailed }
        let reader = JournalReader(directory: global.journalDir)
        let searched = dirs + [global.stateDir + "/policies"] + Backtest.configuredPolicyDirs(reader)
        guard let path = PolicyStore.find(id, in: searched) else {
            Out.error("backtest: no policy \(id) in \(searched.joined(separator: ", ")) (add --policy-dir DIR)")
            return .usage
        }
        let report: BacktestReport
        do {
            let runtime = PolicyRuntime(try FrozenPolicy.load(directory: path))
            report = try Backtest.run(
                reader, policy: id, runtime: runtime, since: since, until: until,
                replicates: EvidenceCommand.replicates, seed: EvidenceCommand.seed)
        } catch {
            Out.error("backtest: \(error)")
            return .checkFailed
        }
        if json {
            Out.raw(RecordCoding.bytes(report) + [0x0A])
        } else {
            Out.line(text(report, journalDir: global.journalDir))
        }
        return .ok
    }

    static func text(_ r: BacktestReport, journalDir: String) -> String {
        guard r.decisions > 0 else {
            return "backtest \(r.policy): no decision that wrote a budget in the window: nothing to replay"
        }
        func pad(_ s: String, _ n: Int, right: Bool = true) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return right ? fill + s : s + fill
        }
        var lines = [
            "backtest \(r.policy) against \(r.reference?.description ?? "?") (the policy that wrote)"
                + (r.since.map { ", since \($0)" } ?? "") + (r.until.map { ", until \($0)" } ?? ""),
            "decisions replayed \(r.decisions): would apply \(r.wouldApply), hold \(r.wouldHold), policy faults "
                + "\(r.policyFaults); \(r.sameAsLogged) exactly as logged"
                + (r.unreplayable > 0
                    ? "; \(r.unreplayable) not replayed: the configuration or delivery profile they cite is in "
                        + "no segment in \(journalDir) (copy the shipped journal-*.jsonl.gz archives back there to "
                        + "include them; if none were shipped, run adpilotctl journal verify)"
                    : ""),
            "",
            pad("LAYER", 16, right: false) + pad("ADJUSTED", 10) + pad("VETOED", 10),
        ]
        for l in r.layers {
            lines.append(pad(l.layer, 16, right: false) + pad("\(l.adjusted)", 10) + pad("\(l.vetoed)", 10))
        }
        lines += ["", pad("CAMPAIGN", 16, right: false) + pad("DECISIONS", 10) + pad("APPLY", 8)
            + pad("LOGGED", 14) + pad("WOULD BE", 14) + pad("MEAN CHANGE", 13)]
        for c in r.campaigns {
            let change = (c.meanChange >= 0 ? "+" : "") + String(format: "%.1f%%", c.meanChange * 100)
            lines.append(
                pad(c.campaign.rawValue, 16, right: false) + pad("\(c.decisions)", 10) + pad("\(c.wouldApply)", 8)
                    + pad(c.loggedBudgetMicros.decimalString(minimumFractionDigits: 2), 14)
                    + pad(c.wouldBeBudgetMicros.decimalString(minimumFractionDigits: 2), 14) + pad(change, 13))
        }
        lines.append("")
        if let e = r.evaluation {
            lines.append(
                "off-policy estimates against \(r.reference?.description ?? "?"): "
                    + EvidenceCommand.table(e).joined(separator: "\n"))
        } else {
            lines.append("off-policy estimates: " + (r.unavailable ?? "unavailable"))
        }
        return lines.joined(separator: "\n")
    }
}

extension Arguments {
    /// Removes `--name TIME` (RFC 3339, or a date for its midnight UTC); nil when absent.
    mutating func time(_ name: String) throws(UsageError) -> Instant? {
        guard let text = try value(name) else { return nil }
        guard let t = Instant(rfc3339: text) else {
            throw UsageError(message: "\(name) \(text): not an RFC 3339 time (e.g. 2026-11-21T19:40:00Z or 2026-11-21)")
        }
        return t
    }
}
