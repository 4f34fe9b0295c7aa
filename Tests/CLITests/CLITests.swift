import Foundation
import Testing
import AdPilotTestSupport

/// The executables, run as real processes, with golden output for the human-facing text.
@Suite struct CLITests {
    static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()  // .build/<triple>/debug/AdPilotPackageTests.xctest -> debug/

    static func run(_ name: String, _ args: [String]) throws -> ProcessOutput {
        try runProcess(binDir.appendingPathComponent(name).path, args)
    }

    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs a bash script (with pipefail) with the build directory first on PATH.
    static func shell(_ script: String) throws -> ProcessOutput {
        let path = binDir.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return try runProcess("/usr/bin/env", ["PATH=" + path, "bash", "-c", "set -o pipefail; " + script])
    }

    @Test func daemonHelpIsGolden() throws {
        let r = try Self.run("adpilotd", ["--help"])
        #expect(r.status == 0 && r.err.isEmpty)
        #expect(
            r.out == """
                adpilotd 0.2.0: the AdPilot controller daemon

                USAGE
                  adpilotd [--config FILE]                      run under systemd (production)
                  adpilotd --demo [--campaigns N] [--speed S]   the embedded default: simulator,
                                                                S simulated seconds per real second
                  adpilotd --check-config FILE                  exit 0, or 2 with the key path and problem
                  adpilotd --print-default-config               the embedded default (JSON)
                  adpilotd --help | --version

                OPTIONS
                  --config FILE           Config file (default /etc/adpilot/adpilot.json)
                  --state-dir DIR         Journal, halt flag, snapshot (env ADPILOT_STATE_DIR;
                                          default /var/lib/adpilot)
                  --socket PATH           Control socket (env ADPILOT_SOCKET; default
                                          /run/adpilot/control.sock)
                  --credentials-dir DIR   Secrets (env CREDENTIALS_DIRECTORY, set by LoadCredential=)
                  --policy-dir DIR        Also look for policies here (repeatable); --demo finds
                                          the shipped ones beside the binary without it
                  --campaigns N           --demo: simulated campaigns (default 20)
                  --speed S               --demo: simulated seconds per real second (default 360)

                SIGNALS
                  SIGTERM   finish the tick in flight, journal shutdown, exit 0
                  SIGHUP    reload the config file; an invalid one is refused and the old one kept

                EXIT CODES
                  0 done, 1 could not start, or the journal could not be written, 2 usage error or bad config

                """)
    }

    @Test func ctlHelpNamesEveryJournalVerbAndExitCode() throws {
        let r = try Self.run("adpilotctl", ["-h"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("adpilotctl 0.2.0: operate the AdPilot controller\n"))
        for usage in [
            "adpilotctl journal tail [-n N] [-f] [--since TIME] [--campaign ID] [--kind KIND] [--json]",
            "adpilotctl journal show SEQ [--json]", "adpilotctl journal verify [--key-file FILE]",
            "adpilotctl journal archive [--key-file FILE] [--json]",
            "0 done, 1 verification failed or a check found a problem, 2 usage error,",
            "3 refused, 4 daemon unreachable, 5 permission denied",
        ] {
            #expect(r.out.contains(usage), "help lacks: \(usage)")
        }
    }

    @Test(arguments: ["adpilotd", "adpilotctl"])
    func versionNamesTheLinkedLibraries(name: String) throws {
        let r = try Self.run(name, ["--version"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("\(name) 0.2.0 (libcurl "), "\(r.out)")
        #expect(r.out.contains("OpenSSL 3") && r.out.contains("libsystemd"))
    }

    @Test(arguments: [
        (["--campaigns", "5"], "adpilotd: --campaigns needs --demo and a number in 1...100000\n"),
        (
            ["--demo", "--speed", "0"],
            "adpilotd: --speed needs --demo and a number in 0.001...1000000 (simulated seconds per real second)\n"
        ),
        (
            ["--demo", "--config", "/etc/x.json"],
            "adpilotd: --demo runs the embedded default; it does not take --config\n"
        ),
        (["--frobnicate"], "adpilotd: unknown option --frobnicate; see adpilotd --help\n"),
    ])
    func daemonUsageErrorsExitTwo(args: [String], message: String) throws {
        let r = try Self.run("adpilotd", args)
        #expect(r.status == 2 && r.out.isEmpty)
        #expect(r.err == message, "\(r.err)")
    }

    /// The embedded default and the shipped production config both pass --check-config;
    /// a broken one names file, key path and problem.
    @Test func checkConfigAcceptsTheShippedConfigsAndNamesBadKeys() throws {
        let dir = TempDir("check-config")
        let printed = try Self.run("adpilotd", ["--print-default-config"])
        #expect(printed.status == 0)
        let demo = dir.path + "/demo.json"
        try printed.out.write(toFile: demo, atomically: true, encoding: .utf8)
        #expect(try Self.run("adpilotd", ["--check-config", demo]).status == 0)
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("systemd/adpilot.json").path
        let ok = try Self.run("adpilotd", ["--check-config", shipped])
        #expect(ok.status == 0 && ok.out.hasPrefix("\(shipped): ok (config digest "), "\(ok)")
        let bad = dir.path + "/bad.json"
        try printed.out.replacingOccurrences(of: "\"max_step_fraction\": 0.25", with: "\"max_step_fraction\": 1.5")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try Self.run("adpilotd", ["--check-config", bad])
        #expect(refused.status == 2)
        #expect(
            refused.err == "adpilotd: \(bad): campaign_defaults.guardrails.max_step_fraction: must be in 0.0...1.0\n",
            "\(refused.err)")
        try "{\"version\": 1,\n \"tick_seconds\": }".write(toFile: bad, atomically: true, encoding: .utf8)
        let syntax = try Self.run("adpilotd", ["--check-config", bad])
        #expect(syntax.status == 2 && syntax.err.contains("(line 2)"), "\(syntax.err)")
    }

    @Test(arguments: [
        (["stage", "x@1"], "adpilotctl: stage needs --reason TEXT: it goes into the journal\n"),
        (
            ["stage", "nonsense", "--reason", "r"],
            "adpilotctl: stage takes one policy as NAME@VERSION (adpilotctl policy list shows them)\n"
        ),
        (["promote"], "adpilotctl: promote needs --reason TEXT: it goes into the journal\n"),
        (["halt"], "adpilotctl: halt needs --reason TEXT: it goes into the journal\n"),
        (["frobnicate"], "adpilotctl: unknown verb frobnicate; try adpilotctl --help\n"),
        (["journal", "tail", "-n", "x"], "adpilotctl: -n x: expected a count from 0 to 10000000\n"),
        (
            ["journal", "tail", "--since", "yesterday"],
            "adpilotctl: --since yesterday: not an RFC 3339 time (e.g. 2026-11-21T19:40:00Z or 2026-11-21)\n"
        ),
        (["journal", "show"], "adpilotctl: journal show needs one record number (SEQ >= 1)\n"),
        (["--state-dir"], "adpilotctl: --state-dir needs a value\n"),
    ])
    func usageErrorsExitTwoAndSayWhy(args: [String], message: String) throws {
        let r = try Self.run("adpilotctl", args)
        #expect(r.status == 2 && r.out.isEmpty)
        #expect(r.err.hasPrefix(message.dropLast()), "\(r.err)")
    }
}
