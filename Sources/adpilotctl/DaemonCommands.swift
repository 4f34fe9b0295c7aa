import AdPilotCore
import AdPilotControl
import AdPilotJournal
import AdPilotSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `adpilotctl status | halt | resume`: the verbs that talk to the daemon's socket.
enum DaemonCommands {
    /// How long halt waits for the daemon before acting on its own (flag + journal).
    static let statusCampaignsShown = 40
    static let watchIntervalSeconds: UInt32 = 2

    /// The verb's `--reason` (required, non-blank); with `positionals: false` nothing else may follow.
    static func reason(_ args: inout Arguments, verb: String, positionals: Bool = false) throws(UsageError) -> String {
        guard let r = try args.value("--reason"), r.contains(where: { !$0.isWhitespace }) else {
            throw UsageError(message: "\(verb) needs --reason TEXT: it goes into the journal")
        }
        if !positionals, !(try args.positionals(verb: verb)).isEmpty {
            throw UsageError(message: "\(verb) takes no arguments besides --reason")
        }
        return r
    }

    static func fail(_ f: ControlClient.Failure) -> ExitCode {
        switch f {
        case .permissionDenied(let m):
            Out.error(m)
            return .permissionDenied
        case .unreachable(let m):
            Out.error("\(m); is adpilotd running? (systemctl status adpilotd)")
            return .unreachable
        }
    }

    static func finish(_ r: ControlResponse, json: Bool = false) -> ExitCode {
        let code = ExitCode(rawValue: r.exit) ?? .checkFailed
        if json {
            Out.raw(RecordCoding.bytes(r, prettyEncoder) + [UInt8(ascii: "\n")])
            return code
        }
        if code == .ok { Out.line(r.message) } else { Out.error(r.message) }
        if let gates = r.gates, !gates.isEmpty { Out.line(gateTable(gates)) }
        return code
    }

    /// `name  required  measured  PASS|FAIL`, one gate a line, columns aligned.
    static func gateTable(_ gates: [GateCheck]) -> String {
        let rows =
            [("GATE", "REQUIRED", "MEASURED", "")]
            + gates.map { ($0.name, $0.required, $0.measured, $0.passed ? "PASS" : "FAIL") }
        let w0 = rows.map(\.0.count).max() ?? 0, w1 = rows.map(\.1.count).max() ?? 0,
            w2 = rows.map(\.2.count).max() ?? 0
        func pad(_ s: String, _ w: Int) -> String { s.padding(toLength: w, withPad: " ", startingAt: 0) }
        return rows.map {
            "\(pad($0.0, w0))  \(pad($0.1, w1))  \(pad($0.2, w2))  \($0.3)".trimmingCharacters(in: .whitespaces)
        }
        .joined(separator: "\n")
    }

    // MARK: status

    static func status(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let watch = args.flag("--watch")
        guard try args.positionals(verb: "status").isEmpty else {
            throw UsageError(message: "status takes only --json and --watch")
        }
        while true {
            let code: ExitCode
            let request = ControlRequest(verb: "status", stateDir: global.stateDir)
            switch ControlClient.call(request, socket: global.socket) {
            case .failure(let f):
                code = fail(f)
            case .success(let r):
                if let s = r.status, r.exit == 0 {
                    if watch && !json && isatty(1) == 1 { Out.raw(Array("\u{1b}[H\u{1b}[2J".utf8)) }
                    if json {
                        Out.raw(RecordCoding.bytes(s, prettyEncoder) + [UInt8(ascii: "\n")])
                    } else {
                        Out.line(render(s))
                    }
                    code = .ok
                } else {
                    code = finish(r)
                }
            }
            guard watch, code == .ok else { return code }
            sleep(watchIntervalSeconds)
        }
    }

    static let prettyEncoder: JSONEncoder = {
        let e = RecordCoding.encoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }()

    static func render(_ s: StatusReport) -> String {
        func policy(_ p: PolicyID?) -> String {
            guard let p else { return "none" }
            return s.policyDigests[p.description].map { "\(p) (\($0.prefix(12)))" } ?? "\(p) (not loaded)"
        }
        let minutes = max(0, s.now.microsSinceEpoch - s.modeSince.microsSinceEpoch) / 60_000_000
        var lines: [String] = []
        lines.append("mode         \(s.mode.rawValue) for \(minutes / 60)h\(minutes % 60)m (since \(s.modeSince))")
        lines.append("live         \(policy(s.live))")
        lines.append("candidate    \(policy(s.candidate))")
        lines.append("previous     \(policy(s.previous))")
        lines.append("halt flag    \(s.haltFlag ? "PRESENT: no budget writes" : "absent")")
        for o in s.overrides {
            lines.append(
                "override     \(o.policy) promoted from \(o.from.rawValue) by \(o.actor) at \(o.at) despite "
                    + "\(o.failedGates.joined(separator: ", "))"
            )
        }
        for q in s.quarantined {
            lines.append(
                "quarantined  \(q.campaign) since \(q.since): \(q.checks.joined(separator: ", ")) "
                    + "(held alone; adpilotctl release \(q.campaign) --reason TEXT)")
        }
        if s.mode == .canary || (s.mode == .shadow && s.candidate != nil) {
            lines.append(
                "canary scope \(s.canaryScope.count) campaign(s)\(s.mode == .shadow ? " on promotion" : ""): "
                    + s.canaryScope.prefix(8).map(\.rawValue).joined(separator: ", ")
                    + (s.canaryScope.count > 8 ? ", ..." : ""))
        }
        let planned = s.campaigns.filter { $0.deliveryProfile != nil }
        if !planned.isEmpty {
            let own = planned.filter { $0.profileDays > 0 }.count
            lines.append(
                "delivery     \(own) of \(planned.count) campaign(s) planned on their own history (at least a day in "
                    + "every hour), the rest on the account's profile; status --json has each one's 24 rates")
        }
        lines.append("journal      head seq \(s.journalHeadSeq)")
        lines.append(
            "platform     \(s.platform); breaker \(s.breakers.platform.rawValue); campaign breakers "
                + s.breakers.campaigns.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(
                    separator: ", "))
        if let t = s.lastTick {
            var line =
                "last tick    #\(t.tick) at \(t.at): \(t.campaigns) campaigns, \(t.decisions) decisions, "
                    + "\(t.confirmed) writes"
            if t.writeFailures > 0 { line += ", \(t.writeFailures) failed" }
            if t.skippedByHalt > 0 { line += ", \(t.skippedByHalt) stopped by halt" }
            line += " (\(t.durationMicros / 1_000) ms)"
            if let e = t.error { line += "; problem: \(e)" }
            lines.append(line)
        } else {
            lines.append("last tick    none yet")
        }
        if !s.gates.isEmpty {
            lines.append("")
            lines.append(
                "gates to \(s.mode == .shadow ? "canary" : "live") (failing canary health checks in a row: "
                    + "\(s.evidence.consecutiveFailedChecks)):"
            )
            lines.append(gateTable(s.gates))
        }
        lines.append("")
        lines.append("CAMPAIGN          BUDGET    SPENT TODAY  BREAKER    LAST DECISION")
        for c in s.campaigns.prefix(statusCampaignsShown) {
            let id = c.id.rawValue.padding(toLength: max(16, c.id.rawValue.count), withPad: " ", startingAt: 0)
            let d =
                c.control != "controlled" ? c.control : c.lastDecision.map { d in
                    "#\(d.seq) \(d.slot.rawValue) \(d.action.rawValue) -> "
                        + "\(c.currency.format(d.budgetAfterMicros))\(d.reason.map { " (\($0.rawValue))" } ?? "")"
                } ?? "-"
            let (budget, spent) = (c.currency.format(c.budgetMicros), c.currency.format(c.spendTodayMicros))
            lines.append(
                "\(id)  \(pad(budget, 8))  \(pad(spent, 11))  "
                    + "\(c.breaker.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(d)"
            )
        }
        if s.campaigns.count > statusCampaignsShown {
            lines.append("... and \(s.campaigns.count - statusCampaignsShown) more (adpilotctl status --json)")
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    // MARK: halt, resume

    static func halt(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let create = args.flag("--create")
        let why = try reason(&args, verb: "halt")
        switch Halt.run(
            socket: global.socket, stateDir: StateDirectory(global.stateDir), reason: why, createIfMissing: create)
        {
        case .confirmed(let r):
            return finish(r)
        case .denied(let m):
            Out.error(m)
            return .permissionDenied
        case .offline(let why, let report):
            Out.error(why)
            for line in report.lines {
                switch line {
                case .error(let text): Out.error(text)
                case .info(let text): Out.line(text)
                }
            }
            return report.exit
        }
    }

    static func resume(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let why = try reason(&args, verb: "resume")
        return send(ControlRequest(verb: "resume", reason: why, stateDir: global.stateDir), global, json: false)
    }

    static func send(_ request: ControlRequest, _ global: GlobalOptions, json: Bool) -> ExitCode {
        switch ControlClient.call(request, socket: global.socket) {
        case .success(let r): return finish(r, json: json)
        case .failure(let f): return fail(f)
        }
    }

    // MARK: stage, promote, rollback

    static func stage(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let why = try reason(&args, verb: "stage", positionals: true)
        let json = args.flag("--json")
        let rest = try args.positionals(verb: "stage")
        guard rest.count == 1, PolicyID(rest[0]) != nil else {
            throw UsageError(message: "stage takes one policy as NAME@VERSION (adpilotctl policy list shows them)")
        }
        let request = ControlRequest(verb: "stage", reason: why, policy: rest[0], stateDir: global.stateDir)
        return send(request, global, json: json)
    }

    static func promote(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let override = args.flag("--override-gates")
        let json = args.flag("--json")
        let why = try reason(&args, verb: "promote")
        let request = ControlRequest(verb: "promote", reason: why, overrideGates: override, stateDir: global.stateDir)
        return send(request, global, json: json)
    }

    static func release(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let why = try reason(&args, verb: "release", positionals: true)
        let json = args.flag("--json")
        let rest = try args.positionals(verb: "release")
        guard rest.count == 1 else {
            throw UsageError(message: "release takes one campaign id (adpilotctl status lists the quarantined ones)")
        }
        let request = ControlRequest(verb: "release", reason: why, stateDir: global.stateDir, campaign: rest[0])
        return send(request, global, json: json)
    }

    static func rollback(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let why = try reason(&args, verb: "rollback")
        return send(ControlRequest(verb: "rollback", reason: why, stateDir: global.stateDir), global, json: json)
    }
}
