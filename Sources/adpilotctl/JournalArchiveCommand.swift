import AdPilotControl
import AdPilotCore
import AdPilotJournal
import Foundation

/// `adpilotctl journal archive`: closed segments compressed in place (Runbooks/archive-the-journal.md).
extension JournalCommands {
    static func archive(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let keyFile = try args.value("--key-file")
        let json = args.flag("--json")
        guard try args.positionals(verb: "journal archive").isEmpty else {
            throw UsageError(message: "journal archive takes no arguments\n\(usage)")
        }
        let key: [UInt8]?
        switch readKey(keyFile) {
        case .success(let k): key = k
        case .failure(let code): return code.exit
        }
        guard journalExists(global) else { return .checkFailed }
        let done: [JournalArchiver.Archived]
        do {
            done = try JournalArchiver.archive(directory: global.journalDir, key: key)
        } catch {
            let code = report(error, global)
            if code == .permissionDenied {
                Out.error(
                    "archiving writes in \(global.journalDir): run it as the service user "
                        + "(sudo -u adpilot adpilotctl journal archive) or as root")
            }
            return code
        }
        if json {
            let rows = done.map { ["segment": $0.segment, "bytes": $0.bytes, "compressed_bytes": $0.compressedBytes] }
            let object: [String: Any] = ["archived": rows]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            Out.line(String(decoding: data, as: UTF8.self))
            return .ok
        }
        guard !done.isEmpty else {
            Out.line(
                "nothing to archive: every closed segment is archived already (the newest, which the writer appends "
                    + "to, never is)")
            return .ok
        }
        let before = done.reduce(0) { $0 + $1.bytes }, after = done.reduce(0) { $0 + $1.compressedBytes }
        var lines = done.map {
            "\($0.segment) -> \($0.segment).gz: \($0.bytes) -> \($0.compressedBytes) bytes"
                + String(format: " (%.1f%%)", 100 * Double($0.compressedBytes) / Double(max($0.bytes, 1)))
        }
        lines.append(
            "archived \(done.count) segment\(done.count == 1 ? "" : "s"): \(before) -> \(after) bytes"
                + String(format: " (%.1f%%)", 100 * Double(after) / Double(max(before, 1)))
                + "; the journal verified before, and each archive decompressed to the same SHA-256 before its "
                + "segment was removed")
        Out.line(lines.joined(separator: "\n"))
        return .ok
    }
}
