import Foundation
import Testing
import AdPilotTestSupport

/// The executables, run as real processes, with golden output for the human-facing text.
@Suite struct CLITests {
    static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()  // .build/<triple>/debug/AdPilotPackageTests.xctest -> debug/

    struct Run { let status: Int32; let out: String; let err: String }

    static func run(_ name: String, _ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(name)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = readToEnd(out.fileHandleForReading)
        let e = readToEnd(err.fileHandleForReading)
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    @Test func daemonHelpIsGolden() throws {
        let r = try Self.run("adpilotd", ["--help"])
        #expect(r.status == 0 && r.err.isEmpty)
        #expect(r.out == """
            adpilotd 0.1.0: the AdPilot controller daemon

            USAGE
              adpilotd --help
              adpilotd --version

            This build contains AdPilot's decision core, audit journal, platforms and
            frozen policies, but not yet the daemon runtime (--config, --demo,
            --check-config, --print-default-config); see README.md, "Status".

            OPTIONS
              -h, --help      Show this help and exit.
              --version       Show the version and the linked system libraries, and exit.

            EXIT CODES
              0 done, 2 usage error

            """)
    }

    @Test func ctlHelpNamesEveryJournalVerbAndExitCode() throws {
        let r = try Self.run("adpilotctl", ["-h"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("adpilotctl 0.1.0: operate the AdPilot controller\n"))
        for usage in ["adpilotctl journal tail [-n N] [-f] [--since TIME] [--campaign ID] [--kind KIND] [--json]",
                      "adpilotctl journal show SEQ [--json]", "adpilotctl journal verify [--key-file FILE]",
                      "0 done, 1 verification failed or a check found a problem, 2 usage error,",
                      "3 refused, 4 daemon unreachable, 5 permission denied"] {
            #expect(r.out.contains(usage), "help lacks: \(usage)")
        }
    }

    @Test(arguments: ["adpilotd", "adpilotctl"])
    func versionNamesTheLinkedLibraries(name: String) throws {
        let r = try Self.run(name, ["--version"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("\(name) 0.1.0 (libcurl "), "\(r.out)")
        #expect(r.out.contains("OpenSSL 3") && r.out.contains("libsystemd"))
    }

    @Test func daemonRefusesWhatItCannotDoYet() throws {
        let r = try Self.run("adpilotd", ["--demo"])
        #expect(r.status == 2 && r.out.isEmpty)
        #expect(r.err == "adpilotd: \"--demo\": the daemon runtime is not built yet; only --help and --version work in this build\n")
    }

    @Test(arguments: [(["status"], "adpilotctl: status: not built yet (it arrives with the daemon); see README.md, \"Status\"\n"),
                      (["frobnicate"], "adpilotctl: unknown verb frobnicate; try adpilotctl --help\n"),
                      (["journal", "tail", "-n", "x"], "adpilotctl: -n x: expected a count from 0 to 10000000\n"),
                      (["journal", "tail", "--since", "yesterday"], "adpilotctl: --since yesterday: not an RFC 3339 time (e.g. 2026-11-21T19:40:00Z or 2026-11-21)\n"),
                      (["journal", "show"], "adpilotctl: journal show needs one record number (SEQ >= 1)\n"),
                      (["--state-dir"], "adpilotctl: --state-dir needs a value\n")])
    func usageErrorsExitTwoAndSayWhy(args: [String], message: String) throws {
        let r = try Self.run("adpilotctl", args)
        #expect(r.status == 2 && r.out.isEmpty)
        #expect(r.err.hasPrefix(message.dropLast()), "\(r.err)")
    }
}

