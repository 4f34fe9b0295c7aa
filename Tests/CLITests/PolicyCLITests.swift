import Foundation
import Testing

@Suite struct PolicyCLITests {
    static let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Policies").path

    @Test func listInspectVerifyTheShippedPolicies() throws {
        let list = try CLITests.run(
            "adpilotctl", ["policy", "list", "--policy-dir", Self.policies, "--state-dir", "/nonexistent"])
        #expect(list.status == 0 && list.out.contains("hold@1") && list.out.contains("pace@1"), "\(list)")
        let inspect = try CLITests.run("adpilotctl", ["policy", "inspect", "hold@1", "--policy-dir", Self.policies])
        #expect(
            inspect.status == 0 && inspect.out.contains("kind      rule") && inspect.out.contains("digest    "),
            "\(inspect)")
        let verify = try CLITests.run("adpilotctl", ["policy", "verify", Self.policies + "/pace@1"])
        #expect(verify.status == 0 && verify.out.hasPrefix("policy OK: pace@1 (rule), digest "))
    }

    /// `--policy-dir` is repeatable: every directory given is searched, not only the last.
    @Test func everyPolicyDirGivenIsSearched() throws {
        var template = Array("\(NSTemporaryDirectory())/adpilot-pdirs-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/hold@2", withIntermediateDirectories: true)
        let manifest = try String(contentsOfFile: Self.policies + "/hold@1/manifest.json", encoding: .utf8)
        try manifest.replacingOccurrences(of: #""version": "1""#, with: #""version": "2""#)
            .write(toFile: dir + "/hold@2/manifest.json", atomically: true, encoding: .utf8)
        let list = try CLITests.run(
            "adpilotctl", ["policy", "list", "--policy-dir", dir, "--policy-dir", Self.policies])
        #expect(list.status == 0 && list.out.contains("hold@2") && list.out.contains("pace@1"), "\(list)")
    }

    @Test func verifyRefusesATamperedPolicyNamingTheField() throws {
        var template = Array("\(NSTemporaryDirectory())/adpilot-pcli-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/hold@2", withIntermediateDirectories: true)
        let manifest = try String(contentsOfFile: Self.policies + "/hold@1/manifest.json", encoding: .utf8)
            .replacingOccurrences(of: "\"version\": \"1\"", with: "\"version\": \"2\"").replacingOccurrences(
                of: "\"kind\": \"rule\"", with: "\"kind\": \"oracle\"")
        try manifest.write(toFile: dir + "/hold@2/manifest.json", atomically: true, encoding: .utf8)
        let r = try CLITests.run("adpilotctl", ["policy", "verify", dir + "/hold@2"])
        #expect(
            r.status == 1 && r.out.hasPrefix("policy REFUSED: hold@2/manifest.json: kind: unsupported kind \"oracle\""),
            "\(r.out)")
        let missing = try CLITests.run("adpilotctl", ["policy", "inspect", "nope@1", "--policy-dir", dir])
        #expect(missing.status == 1 && missing.err.contains("no policy nope@1"))
    }
}
