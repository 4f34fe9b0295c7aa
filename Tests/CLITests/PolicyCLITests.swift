import Foundation
import Testing
import AdPilotTestSupport

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

/// `adpilotctl policy run`: what the daemon's runtime chooses for feature rows, checked
/// against numpy's forward pass of the same exported weights (Policies/export_policy.py).
@Suite struct PolicyRunTests {
    static let root = CLITests.repoRoot
    static func sh(_ script: String) throws -> ProcessOutput { try CLITests.shell(script) }

    @Test func anMLPsChoicesMatchNumpyRowForRow() throws {
        let dir = TempDir("policy-run")
        let features = "trailing_roas,budget_to_target,hour_sin,hour_cos,day_elapsed"
        let export = try Self.sh("""
            python3 '\(Self.root)/Policies/export_policy.py' random '\(dir.path)' --name mlp --version 1 \
              --features \(features) --multipliers 0.8,0.9,1.0,1.1,1.25 --sizes 5,16,8,5 --seed 11 >/dev/null
            """)
        try #require(export.status == 0, "python3 with numpy is needed (make test-deps): \(export.err)")
        // 500 seeded rows and numpy's argmax for each, from the exporter's own forward pass.
        let reference = try Self.sh("""
            cd '\(Self.root)/Policies' && python3 -c '
            import numpy as np, export_policy as e
            rng = np.random.default_rng(5)
            x = rng.uniform(-3, 3, (500, 5)).astype(np.float32)
            w = np.random.default_rng(11)
            sizes = [5, 16, 8, 5]
            layers = [(w.standard_normal((o, i)).astype(np.float32) / np.sqrt(i),
                       w.standard_normal(o).astype(np.float32) * 0.1) for i, o in zip(sizes, sizes[1:])]
            q = e.forward(layers, x)
            for row, a in zip(x, q.argmax(axis=1)): print(",".join(repr(float(v)) for v in row), a)'
            """)
        try #require(reference.status == 0, "\(reference.err)")
        let lines = reference.out.split(separator: "\n")
        #expect(lines.count == 500)
        let rows = lines.map { $0.split(separator: " ")[0] }.joined(separator: "\n") + "\n"
        try Data(rows.utf8).write(to: URL(fileURLWithPath: dir.path + "/rows.csv"))
        let run = try Self.sh("adpilotctl policy run mlp@1 --policy-dir '\(dir.path)' < '\(dir.path)/rows.csv'")
        #expect(run.status == 0, "\(run.err)")
        let got = run.out.split(separator: "\n")
        #expect(got.count == 500)
        let multipliers = [0.8, 0.9, 1.0, 1.1, 1.25]
        for (i, (mine, theirs)) in zip(got, lines).enumerated() {
            let fields = mine.split(separator: " ")
            let expected = String(theirs.split(separator: " ")[1])
            #expect(fields.count == 2 + 5, "row \(i + 1): \(mine)")
            #expect(String(fields[0]) == expected, "row \(i + 1): AdPilot chose \(fields[0]), numpy \(expected)")
            #expect(Double(fields[1]) == multipliers[Int(expected) ?? 0], "row \(i + 1): \(mine)")
        }
    }

    @Test func aBadRowIsRefusedNamingTheLineAndTheFeatures() throws {
        let run = "adpilotctl policy run --policy-dir \(Self.root)/Policies"
        let ok = try Self.sh("printf '# a comment\\n2.0 1.0 0.5\\n' | \(run) qlearn@1")
        #expect(ok.status == 0 && ok.out.split(separator: "\n").count == 1, "\(ok)")
        let json = try Self.sh("printf '2.0,1.0,0.5\\n' | \(run) qlearn@1 --json")
        #expect(json.status == 0 && json.out.hasPrefix("{\"action\":"), "\(json)")
        let short = try Self.sh("printf '2.0 1.0 0.5\\n2.0 1.0\\n' | \(run) qlearn@1")
        #expect(short.status == 1 && short.out.split(separator: "\n").count == 1, "\(short)")
        #expect(
            short.err.contains("standard input line 2: 2 value(s)")
                && short.err.contains("trailing_roas, budget_to_target, day_elapsed"), "\(short.err)")
        let empty = try Self.sh("printf '2.0,,0.5\\n' | \(run) qlearn@1")
        #expect(empty.status == 1 && empty.err.contains("not all finite numbers"), "an empty CSV field: \(empty.err)")
        let nan = try Self.sh("printf 'nan 1 0.5\\n' | \(run) qlearn@1")
        #expect(nan.status == 1 && nan.err.contains("not all finite numbers"), "\(nan.err)")
        let pace = try Self.sh("printf '\\n' | \(run) pace@1")
        #expect(pace.status == 0 && pace.out == "- pace\n", "\(pace)")
    }
}
