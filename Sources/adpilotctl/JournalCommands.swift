import AdPilotCore
import AdPilotControl
import AdPilotJournal
import AdPilotSystem
import Foundation

/// `adpilotctl journal tail | show | verify | archive`.
enum JournalCommands {
    static let usage = """
        usage: adpilotctl journal tail [-n N] [-f] [--since TIME] [--campaign ID] [--kind KIND] [--json]
               adpilotctl journal show SEQ [--json]
               adpilotctl journal verify [--key-file FILE] [--expect-head SEQ:HASH]... [--after SEQ:HASH]
               adpilotctl journal archive [--key-file FILE] [--json]
        """

    static func run(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        switch args.popVerb() {
        case "tail": return try tail(&args, global)
        case "show": return try show(&args, global)
        case "verify": return try verify(&args, global)
        case "archive": return try archive(&args, global)
        case let other:
            throw UsageError(
                message: "journal: \(other.map { "unknown subcommand \($0)" } ?? "missing subcommand")\n\(usage)")
        }
    }

    // MARK: tail

    static func tail(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let follow = args.flag("-f", "--follow")
        let json = args.flag("--json")
        let countText = try args.value("-n", "--lines")
        var filter = RecordFilter()
        if let kinds = try args.value("--kind") { filter.kinds = Set(kinds.split(separator: ",").map(String.init)) }
        filter.campaign = try args.value("--campaign")
        filter.since = try args.time("--since")
        guard try args.positionals(verb: "journal tail").isEmpty else {
            throw UsageError(message: "journal tail takes no arguments\n\(usage)")
        }
        var count = 10
        if let countText {
            guard let n = Int(countText), n >= 0, n <= 10_000_000 else {
                throw UsageError(message: "-n \(countText): expected a count from 0 to 10000000")
            }
            count = n
        }
        let reader = JournalReader(directory: global.journalDir)
        guard journalExists(global) else { return .checkFailed }
        do {
            // The head before listing: following resumes after it (or after the newest record
            // printed, if a writer appended while we listed), so nothing is skipped or repeated.
            let head = try reader.last(1).first?.seq ?? 0
            var printed: UInt64 = 0
            // With --since and no -n, everything since that time; otherwise the last N.
            if filter.since != nil && countText == nil {
                try reader.records(matching: filter) { r in
                    emit(r, json: json)
                    printed = r.seq
                    return true
                }
            } else {
                for r in try reader.last(count, matching: filter) {
                    emit(r, json: json)
                    printed = r.seq
                }
            }
            guard follow else { return .ok }
            try reader.follow(from: max(head, printed) + 1, matching: filter, shouldStop: { false }) {
                emit($0, json: json)
            }
            return .ok
        } catch {
            return report(error, global)
        }
    }

    static func emit(_ r: JournalRecord, json: Bool) {
        if json {
            Out.raw(r.line + [UInt8(ascii: "\n")])
        } else {
            Out.line(human(r))
        }
    }

    /// One line per record: time, seq, kind, campaign, mode, old -> new budget, verdict.
    static func human(_ r: JournalRecord) -> String {
        let data = (try? JSONSerialization.jsonObject(with: Data(r.dataBytes))) as? [String: Any] ?? [:]
        let time = r.time.count >= 19 ? String(r.time.prefix(19)) + "Z" : r.time
        var columns = [time, pad(String(r.seq), 8, right: true), pad(r.kind, 12)]
        columns.append(pad(data["campaign"] as? String ?? "-", 12))
        columns.append(pad(data["mode"] as? String ?? "-", 7))
        var shown: Set<String> = ["campaign", "mode"]
        if let before = micros(data["budget_before_micros"]), let after = micros(data["budget_after_micros"]) {
            columns.append(
                "\(before.decimalString(minimumFractionDigits: 2)) -> \(after.decimalString(minimumFractionDigits: 2))")
            shown.formUnion(["budget_before_micros", "budget_after_micros"])
        }
        var summary: [String] = []
        for key in ["action", "reason"] where data[key] != nil {
            summary.append("\(data[key]!)")
            shown.insert(key)
        }
        for key in data.keys.sorted() where !shown.contains(key) {
            if let s = scalar(data[key]!) { summary.append("\(key)=\(s)") }
        }
        var line = columns.joined(separator: "  ") + "  " + summary.joined(separator: " ")
        while line.hasSuffix(" ") { line.removeLast() }
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }

    static func micros(_ v: Any?) -> Micros? {
        guard let n = v as? Int else { return nil }  // a whole JSON number; fractions are not money
        return Micros(Int64(n))
    }

    static func scalar(_ v: Any) -> String? {
        switch v {
        case let s as String: return s.count > 40 ? String(s.prefix(39)) + "…" : s
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        guard s.count < width else { return s }
        let fill = String(repeating: " ", count: width - s.count)
        return right ? fill + s : s + fill
    }

    // MARK: show

    static func show(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let rest = try args.positionals(verb: "journal show")
        guard rest.count == 1, let seq = UInt64(rest[0]), seq >= 1 else {
            throw UsageError(message: "journal show needs one record number (SEQ >= 1)\n\(usage)")
        }
        guard journalExists(global) else { return .checkFailed }
        do {
            guard let r = try JournalReader(directory: global.journalDir).record(seq: seq) else {
                Out.error("no record \(seq) in \(global.journalDir)")
                return .checkFailed
            }
            if json {
                Out.raw(r.line + [UInt8(ascii: "\n")])
                return .ok
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(r.line))) as? [String: Any] ?? [:]
            Out.line(
                "seq   \(r.seq)\ntime  \(r.time)\nkind  \(r.kind)\nprev  \(object["prev"] as? String ?? "?")\nhash  "
                    + "\(object["hash"] as? String ?? "?")"
            )
            if r.kind == RecordKind.decision {
                let decoder = RecordCoding.decoder()
                if let d = try? decoder.decode(DecisionRecord.self, from: Data(r.dataBytes)) {
                    Out.line(try explainDecision(d, seq: seq, reader: JournalReader(directory: global.journalDir)))
                } else {
                    // A partial or older record: what can be read of it, then its data.
                    let p = try? decoder.decode(ProposalOnly.self, from: Data(r.dataBytes)).proposal
                    Out.line("(a decision record this adpilotctl cannot read in full; its data follows)")
                    if let p { Out.line(proposalLine(p)) }
                }
            }
            if let data = object["data"],
                let pretty = try? JSONSerialization.data(
                    withJSONObject: data, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            {
                Out.line(
                    "data  " + String(decoding: pretty, as: UTF8.self).replacingOccurrences(of: "\n", with: "\n      "))
            }
            return .ok
        } catch {
            return report(error, global)
        }
    }

    /// How far after a decision its outcome is looked for (one tick's records, generously).
    static let outcomeSearchRecords = 1_000_000

    /// A decision in words: what was observed, proposed, what each layer did and why, the
    /// mode and scope, and what the platform answered (its apply_result or reconcile).
    static func explainDecision(_ d: DecisionRecord, seq: UInt64, reader: JournalReader) throws -> String {
        func money(_ m: Micros?) -> String { m.map { d.observation.currency.format($0) } ?? "-" }
        let obs = d.observation
        var lines: [String] = []
        lines.append(
            "campaign  \(d.campaign): mode \(d.mode.rawValue), slot \(d.slot.rawValue), policy \(d.policy) "
                + "(\(d.policyDigest.prefix(12))), config \(d.configDigest.prefix(12)), "
                + "canary scope \(d.inCanaryScope ? "yes" : "no"), halt flag \(d.haltFlag ? "set" : "clear")")
        lines.append(
            "observed  budget \(money(obs.currentBudgetMicros)), spent today \(money(obs.spendTodayMicros)), "
                + "trailing spend \(money(obs.trailing.spendMicros)) "
                + "value \(money(obs.trailing.conversionValueMicros)), "
                + "data \(obs.dataAgeSeconds) s old")
        lines.append(proposalLine(d.proposal))
        for l in d.verdicts where l.verdict != .skipped {
            var line = "  \(l.layer.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0))"
                + "\(l.verdict.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))"
                + (l.verdict == .approve && l.inMicros == nil && l.outMicros == nil
                    ? "the amount unchanged" : "\(money(l.inMicros)) -> \(money(l.outMicros))")
            if let r = l.reason { line += "  \(r.rawValue)" }
            if let detail = l.detail { line += "  (\(detail))" }
            lines.append(line)
        }
        lines.append(
            "decided   \(money(d.budgetBeforeMicros)) -> \(money(d.budgetAfterMicros)): \(d.action.rawValue)"
                + (d.reason.map { " (\($0.rawValue))" } ?? ""))
        lines.append("outcome   \(try outcome(of: d, seq: seq, reader: reader))")
        return lines.joined(separator: "\n")
    }

    /// What the policy proposed, in currency units.
    static func proposalLine(_ p: Proposal) -> String {
        switch p {
        case .budget(let v):
            return "proposed  " + (v.value.isFinite ? String(format: "%.6f", v.value / 1e6) : "\(v) (not a number)")
        case .failed(let e):
            return "proposed  error: \(e)"
        }
    }

    /// The one member of a decision record that every journal version carries readably.
    struct ProposalOnly: Decodable {
        let proposal: Proposal
    }

    /// The apply_result or reconcile record of a decision that asked for a write.
    static func outcome(of d: DecisionRecord, seq: UInt64, reader: JournalReader) throws -> String {
        switch d.action {
        case .wouldApply: return "no write: this slot or mode may not write (shadow evidence)"
        case .apply: break
        default: return "no write: nothing to change"
        }
        var outcome = "none recorded (a crash before the write's outcome; start-up reconciles it)"
        var scanned = 0
        let kinds: Set<String> = [RecordKind.applyResult, RecordKind.reconcile]
        try reader.records(from: seq + 1, matching: RecordFilter(kinds: kinds)) { r in
            scanned += 1
            guard RecordScan.unsigned("decision_seq", in: r.dataBytes) == seq else {
                return scanned < outcomeSearchRecords
            }
            let decoder = RecordCoding.decoder()
            let data = Data(r.dataBytes)
            let found: (status: String, reported: Micros?, error: String?)
            if r.kind == RecordKind.applyResult {
                let a = try decoder.decode(ApplyResultRecord.self, from: data)
                found = (a.status.rawValue, a.reportedMicros, a.error)
            } else {
                let c = try decoder.decode(ReconcileRecord.self, from: data)
                found = (c.outcome.rawValue, c.reportedMicros, c.error)
            }
            outcome = "\(r.kind) seq \(r.seq): \(found.status), platform reports "
                + "\(found.reported.map { $0.decimalString(minimumFractionDigits: 2) } ?? "-")"
                + (found.error.map { " (\($0))" } ?? "")
            return false
        }
        return outcome
    }

    // MARK: verify

    static func verify(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let keyFile = try args.value("--key-file")
        var anchors: [RecordRef] = []
        for text in try args.values("--expect-head") {
            guard let ref = parseHead(text) else {
                throw UsageError(
                    message: "--expect-head \(text): expected SEQ:HASH (a seq, a colon, 64 hex digits), as journald's "
                        + "ADPILOT_HEAD field holds it")
            }
            anchors.append(ref)
        }
        var after: RecordRef? = nil
        if let text = try args.value("--after") {
            guard let ref = parseHead(text) else {
                throw UsageError(
                    message: "--after \(text): expected SEQ:HASH, the head `journal verify` printed over the archives "
                        + "that were shipped and removed")
            }
            after = ref
        }
        guard try args.positionals(verb: "journal verify").isEmpty else {
            throw UsageError(message: "journal verify takes no arguments\n\(usage)")
        }
        let key: [UInt8]?
        switch readKey(keyFile) {
        case .success(let k): key = k
        case .failure(let code): return code.exit
        }
        guard journalExists(global) else { return .checkFailed }
        switch JournalVerifier.verify(directory: global.journalDir, key: key, anchors: anchors, after: after) {
        case .success(let r):
            var text =
                "journal OK: \(r.records) records in \(r.segments) segment\(r.segments == 1 ? "" : "s"), \(r.seals) "
                    + "seal\(r.seals == 1 ? "" : "s")"
            text += key == nil ? " (not checked: no --key-file)" : " (HMAC verified through seq \(r.sealedThrough))"
            if let after { text += "\nbegins after: seq \(after.seq) hash \(after.hash.hex) (--after)" }
            text += "\nhead: seq \(r.head.seq) hash \(r.head.hash.hex)"
            if !anchors.isEmpty {
                text +=
                    "\nanchors: \(anchors.count) expected head\(anchors.count == 1 ? "" : "s") found with the same hash"
            }
            if r.incompleteTailBytes > 0 {
                text +=
                    "\nnote: \(r.incompleteTailBytes) bytes of an unfinished record at the end (a write in progress, "
                        + "or a torn tail the writer recovers when it next opens)"
            }
            Out.line(text)
            return .ok
        case .failure(let f):
            Out.line(
                "journal verification FAILED at \(f.seq.map { "seq \($0), " } ?? "")\(f.segment) byte \(f.offset): "
                    + "\(f.problem)"
            )
            return .checkFailed
        }
    }

    struct Failed: Error { let exit: ExitCode }

    /// The journal key from `--key-file`, read as the daemon reads its credential; nil without one.
    static func readKey(_ keyFile: String?) -> Result<[UInt8]?, Failed> {
        guard let keyFile else { return .success(nil) }
        let key: [UInt8]
        do {
            key = try PosixFileIO().readSecret(keyFile, limit: 4096)
        } catch {
            Out.error("cannot read the key file: \(error)")
            return .failure(Failed(exit: error.errno == EACCES ? .permissionDenied : .usage))
        }
        guard key.count >= JournalOptions.keyBytesMin else {
            Out.error(
                "\(keyFile): a journal key has at least \(JournalOptions.keyBytesMin) bytes; this one has \(key.count)")
            return .failure(Failed(exit: .usage))
        }
        return .success(key)
    }

    /// `SEQ:HASH`, the form journald's `ADPILOT_HEAD` field and `verify`'s head line use.
    static func parseHead(_ text: String) -> RecordRef? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let seq = UInt64(parts[0]), seq > 0, let hash = SHA256Digest(hex: String(parts[1]))
        else { return nil }
        return RecordRef(seq: seq, hash: hash)
    }

    // MARK: Shared

    static func journalExists(_ global: GlobalOptions) -> Bool {
        if PosixFileIO().probe(global.journalDir) == 0 { return true }
        Out.error("no journal at \(global.journalDir): check --state-dir or ADPILOT_STATE_DIR (now \(global.stateDir))")
        return false
    }

    static func report(_ error: any Error, _ global: GlobalOptions) -> ExitCode {
        Out.error("\(error)")
        if case .system(let e)? = error as? JournalError, e.errno == EACCES || e.errno == EPERM {
            return .permissionDenied
        }
        return .checkFailed
    }
}
