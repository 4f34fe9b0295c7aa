import Foundation
import Testing
import AdPilotTestSupport

/// `adpilotctl journal ...` against journals written by a real writer process.
@Suite struct JournalCLITests {
    static let bin = CLITests.binDir

    /// Runs the testkit writer until it has acknowledged at least `records`, then kills it.
    static func populate(_ state: String, records: Int) throws {
        let child = Process()
        child.executableURL = bin.appendingPathComponent("adpilot-testkit")
        child.arguments = ["journal-append", state + "/journal", String(1 << 20), "50"]
        let out = Pipe()
        child.standardOutput = out
        try child.run()
        var acknowledged = 0
        var buffer = Data()
        while acknowledged < records {
            let chunk = readSome(out.fileHandleForReading)
            if chunk.isEmpty { break }
            buffer += chunk
            acknowledged = buffer.split(separator: UInt8(ascii: "\n")).count
        }
        // SIGKILL: the test runner blocks signals, and children inherit that mask, so a
        // SIGTERM could stay pending forever.
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
    }

    func ctl(_ args: [String]) throws -> ProcessOutput { try CLITests.run("adpilotctl", args) }

    @Test func tailShowAndVerify() throws {
        let state = TempDir("cli")
        try Self.populate(state.path, records: 2_000)
        let tail = try ctl(["journal", "tail", "-n", "3", "--state-dir", state.path])
        let rows = tail.out.split(separator: "\n")
        #expect(tail.status == 0 && rows.count == 3, "\(tail)")
        #expect(rows.allSatisfy { $0.contains("  decision  ") && $0.contains("Z  ") }, "\(rows)")

        let json = try ctl(["--state-dir=\(state.path)", "journal", "tail", "-n", "4", "--campaign", "c3", "--json"])
        let objects = try json.out.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(
            objects.count == 4 && objects.allSatisfy { ($0["data"] as! [String: Any])["campaign"] as? String == "c3" })

        let show = try ctl(["journal", "show", "7", "--state-dir", state.path])
        #expect(
            show.status == 0 && show.out.hasPrefix("seq   7\ntime  20") && show.out.contains("\"campaign\" : \"c6\""),
            "\(show.out)")
        let verbatim = try ctl(["journal", "show", "7", "--json", "--state-dir", state.path])
        #expect(try JSONSerialization.jsonObject(with: Data(verbatim.out.utf8)) is [String: Any])

        let verify = try ctl(["journal", "verify", "--state-dir", state.path])
        #expect(verify.status == 0 && verify.out.hasPrefix("journal OK: "), "\(verify)")

        let missing = try ctl(["journal", "show", "999999999", "--state-dir", state.path])
        #expect(missing.status == 1 && missing.err.contains("no record 999999999"))
    }

    @Test func verifyExitsOneNamingThePlace() throws {
        let state = TempDir("cli")
        try Self.populate(state.path, records: 500)
        let segment = try FileManager.default.contentsOfDirectory(atPath: state.path + "/journal").filter {
            $0.hasSuffix(".jsonl")
        }.sorted()[0]
        let path = state.path + "/journal/" + segment
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let target = text.range(of: #""i":100,"#)!
        text.replaceSubrange(target, with: #""i":101,"#)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let r = try ctl(["journal", "verify", "--state-dir", state.path])
        #expect(r.status == 1)
        #expect(r.out.hasPrefix("journal verification FAILED at seq 101, \(segment) byte "), "\(r.out)")
        #expect(r.out.contains("hash mismatch"))
    }

    /// `journal archive` on a damaged journal: exit 1 naming the place, nothing archived;
    /// malformed arguments are usage errors (exit 2).
    @Test func archiveRefusesADamagedJournal() throws {
        let state = TempDir("cli")
        try Self.populate(state.path, records: 500)
        let journal = state.path + "/journal"
        let segment = try FileManager.default.contentsOfDirectory(atPath: journal).filter { $0.hasSuffix(".jsonl") }
            .sorted()[0]
        let ok = try ctl(["journal", "archive", "--state-dir", state.path])
        #expect(ok.status == 0 && ok.out.hasPrefix("nothing to archive"), "one segment, the newest: \(ok)")
        var text = try String(contentsOfFile: journal + "/" + segment, encoding: .utf8)
        text.replaceSubrange(text.range(of: #""i":100,"#)!, with: #""i":101,"#)
        try text.write(toFile: journal + "/" + segment, atomically: false, encoding: .utf8)
        let before = try FileManager.default.contentsOfDirectory(atPath: journal).sorted()
        let r = try ctl(["journal", "archive", "--state-dir", state.path])
        #expect(r.status == 1 && r.err.contains("seq 101") && r.err.contains("nothing was archived"), "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: journal).sorted() == before)
        let extra = try ctl(["journal", "archive", "now", "--state-dir", state.path])
        #expect(extra.status == 2 && extra.err.contains("journal archive takes no arguments"), "\(extra)")
        let after = try ctl(["journal", "verify", "--after", "12", "--state-dir", state.path])
        #expect(after.status == 2 && after.err.contains("--after 12: expected SEQ:HASH"), "\(after)")
    }

    @Test func verifyWithAShortKeyFileIsAUsageError() throws {
        let state = TempDir("cli")
        let key = state.path + "/short-key"
        #expect(FileManager.default.createFile(atPath: key, contents: Data("too short".utf8)))
        let r = try ctl(["journal", "verify", "--key-file", key, "--state-dir", state.path])
        #expect(r.status == 2 && r.err.contains("at least 32 bytes"))
    }

    /// `tail -f` in one process sees records another process appends, within the poll interval.
    @Test func tailFollowSeesAnotherWritersRecords() throws {
        let state = TempDir("cli")
        try Self.populate(state.path, records: 10)
        let follower = Process()
        follower.executableURL = Self.bin.appendingPathComponent("adpilotctl")
        follower.arguments = ["journal", "tail", "-f", "-n", "0", "--json", "--state-dir", state.path]
        let out = Pipe()
        follower.standardOutput = out
        try follower.run()
        defer { kill(follower.processIdentifier, SIGKILL); follower.waitUntilExit() }
        usleep(200_000)
        try Self.populate(state.path, records: 300)
        var seen = Data()
        let deadline = Date().addingTimeInterval(10)
        while seen.split(separator: UInt8(ascii: "\n")).count < 300 && Date() < deadline {
            seen += readSome(out.fileHandleForReading)
        }
        let seqs = seen.split(separator: UInt8(ascii: "\n")).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])?["seq"] as? Int
        }
        #expect(seqs.count >= 300)
        #expect(seqs == Array(seqs.first!..<(seqs.first! + seqs.count)), "in order, each once")
    }
}
